import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { ChecksumError, extractZip, fetchDataset, readFetchMarker, type FetchImpl } from '../src/fetch.js';
import { loadDataset } from '../src/load.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ml-100k-mini');

function fixtureZip(): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(fixtureDir)) files[name] = readFileSync(join(fixtureDir, name));
  return zipSync({ 'ml-100k': files }, { level: 6 });
}

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('fetchDataset (against a local HTTP server)', () => {
  let server: Server;
  let base: string;
  let cache: string;
  const hits: string[] = [];
  const zip = fixtureZip();
  const slip = zipSync({ 'ml-100k/u.data': new Uint8Array([49]), '../escaped.txt': new Uint8Array([50]) });

  // Routes: /ok (zip + "MD5 (x) = hex" file), /plain-md5 ("hex  name"), /bad-md5, /no-md5, /slip, /missing.
  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '';
      hits.push(url);
      const [, route, file] = url.split('/');
      const body = route === 'slip' ? slip : zip;
      if (route !== 'missing' && file === 'ml-100k.zip') {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length });
        res.end(body);
      } else if (file === 'ml-100k.zip.md5' && route === 'ok') {
        res.end(`MD5 (ml-100k.zip) = ${md5(zip)}\n`);
      } else if (file === 'ml-100k.zip.md5' && route === 'plain-md5') {
        res.end(`${md5(zip).toUpperCase()}  ml-100k.zip\n`);
      } else if (file === 'ml-100k.zip.md5' && route === 'bad-md5') {
        res.end(`MD5 (ml-100k.zip) = ${'0'.repeat(32)}\n`);
      } else if (file === 'ml-100k.zip.md5' && route === 'slip') {
        res.end(md5(slip));
      } else {
        res.writeHead(404);
        res.end('not found');
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });

  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'netflicks-fetch-'));
    hits.length = 0;
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('downloads, verifies the published .md5, unpacks, and is idempotent', async () => {
    const progress: [number, number | null][] = [];
    const res = await fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/ok/`, onProgress: (b, t) => progress.push([b, t]) });
    expect(res).toEqual({ dir: join(cache, 'ml-100k'), downloaded: true, verifiedWith: ['md5:file'] });
    expect(readdirSync(cache)).toEqual(['ml-100k']); // no .part or staging leftovers
    expect(readFileSync(join(res.dir, 'u.data'))).toEqual(readFileSync(join(fixtureDir, 'u.data')));
    expect(readFileSync(join(res.dir, 'u.item'))).toEqual(readFileSync(join(fixtureDir, 'u.item'))); // Latin-1 bytes intact
    expect(progress[progress.length - 1]).toEqual([zip.length, zip.length]);
    expect(await readFetchMarker(res.dir)).toMatchObject({ name: 'ml-100k', md5: md5(zip), sha256: sha256(zip), bytes: zip.length });

    const { dataset } = await loadDataset({ format: 'ml-100k', path: res.dir });
    expect(dataset.ratings.length).toBe(10);
    expect(dataset.folds).toHaveLength(2);

    hits.length = 0;
    const again = await fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/ok` });
    expect(again).toEqual({ dir: join(cache, 'ml-100k'), downloaded: false, verifiedWith: [] });
    expect(hits).toEqual([]); // no request at all

    await fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/ok`, force: true });
    expect(hits).toEqual(['/ok/ml-100k.zip', '/ok/ml-100k.zip.md5']);
  });

  it('accepts a "hex  name" md5 file and explicit digests, through an injected fetch', async () => {
    const calls: string[] = [];
    const fetchImpl: FetchImpl = (url) => {
      calls.push(url);
      return fetch(url);
    };
    const res = await fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/plain-md5`, fetchImpl, sha256: sha256(zip), md5: md5(zip) });
    expect(res.verifiedWith).toEqual(['sha256:option', 'md5:option', 'md5:file']);
    expect(calls).toEqual([`${base}/plain-md5/ml-100k.zip`, `${base}/plain-md5/ml-100k.zip.md5`]);
  });

  it('refuses a checksum mismatch and leaves no partial files', async () => {
    await expect(fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/bad-md5` })).rejects.toThrow(ChecksumError);
    await expect(fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/bad-md5` })).rejects.toThrow(
      /md5 mismatch \(file\): expected 0{32}, got [0-9a-f]{32}; refused/,
    );
    expect(readdirSync(cache)).toEqual([]);
  });

  it('refuses a wrong explicit sha256, and the pinned table when asked for it', async () => {
    await expect(fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/ok`, sha256: 'ab'.repeat(32) })).rejects.toThrow(/sha256 mismatch \(option\)/);
    // The fixture is not the official zip, so the pinned GroupLens values must reject it.
    await expect(fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/ok`, pinned: true })).rejects.toThrow(/size mismatch \(pinned\)/);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('refuses an unverifiable zip unless allowUnverified', async () => {
    await expect(fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/no-md5` })).rejects.toThrow(/no checksum to verify/);
    expect(readdirSync(cache)).toEqual([]);
    const res = await fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/no-md5`, allowUnverified: true });
    expect(res.verifiedWith).toEqual([]);
    expect(existsSync(join(res.dir, 'u.data'))).toBe(true);
  });

  it('reports HTTP errors and leaves nothing behind', async () => {
    await expect(fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/missing` })).rejects.toThrow(/HTTP 404/);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('refuses zip entries that escape the target folder', async () => {
    await expect(fetchDataset('ml-100k', { cacheDir: cache, baseUrl: `${base}/slip` })).rejects.toThrow(/unsafe path in zip/);
    expect(readdirSync(cache)).toEqual([]);
    expect(existsSync(join(cache, '..', 'escaped.txt'))).toBe(false);
  });

  it('rejects unknown dataset names', async () => {
    // @ts-expect-error: not a MovieLens name
    await expect(fetchDataset('ml-10m', { cacheDir: cache })).rejects.toThrow(/unknown dataset/);
  });
});

describe('extractZip', () => {
  it('streams entries of a multi-megabyte zip to disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netflicks-zip-'));
    try {
      const big = new Uint8Array(3_000_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 7)) & 0xff;
      const zipPath = join(dir, 'a.zip');
      writeFileSync(zipPath, zipSync({ top: { 'big.bin': big, 'stored.txt': [new Uint8Array([104, 105]), { level: 0 }], sub: { 'x.txt': new Uint8Array([120]) } } }));
      const out = join(dir, 'out');
      const written = await extractZip(zipPath, out);
      expect(written.map((p) => p.slice(out.length + 1)).sort()).toEqual(['top/big.bin', 'top/stored.txt', 'top/sub/x.txt']);
      expect(readFileSync(join(out, 'top', 'big.bin')).equals(Buffer.from(big))).toBe(true);
      expect(readFileSync(join(out, 'top', 'stored.txt'), 'utf8')).toBe('hi');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
