/**
 * Downloads a MovieLens zip from GroupLens into a cache folder, verifies it, unpacks it.
 *
 * Verification: for the official base URL the zip must match PINNED_CHECKSUMS (size + SHA-256
 * as recorded by TensorFlow Datasets' url_checksums/movielens.txt, and the MD5 that GroupLens
 * publishes as <name>.zip.md5 where we could corroborate it). In addition, and for any other base
 * URL (mirrors, tests), the `<url>.md5` file next to the zip is fetched and compared when present.
 * A zip that nothing verified is refused unless `allowUnverified` is set. A refused or failed
 * download leaves no files behind; the target folder appears only once complete (atomic rename),
 * with a `.netflicks-complete` marker that makes the next call a no-op.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, posix, resolve, sep } from 'node:path';
import { Unzip, UnzipInflate, UnzipPassThrough } from 'fflate';
import { exists } from './file-loading.js';

export type MovieLensName = 'ml-100k' | 'ml-latest-small' | 'ml-1m' | 'ml-20m' | 'ml-25m';

export const MOVIELENS_NAMES: readonly MovieLensName[] = ['ml-100k', 'ml-latest-small', 'ml-1m', 'ml-20m', 'ml-25m'];

/** Loader format of each fetchable dataset. */
export const MOVIELENS_FORMATS: Record<MovieLensName, 'ml-100k' | 'ml-1m' | 'ml-csv'> = {
  'ml-100k': 'ml-100k',
  'ml-latest-small': 'ml-csv',
  'ml-1m': 'ml-1m',
  'ml-20m': 'ml-csv',
  'ml-25m': 'ml-csv',
};

export interface PinnedChecksum {
  bytes: number;
  sha256: string;
  md5?: string;
}

/** See the module comment for provenance. ml-latest-small is GroupLens' 2018-09 release. */
export const PINNED_CHECKSUMS: Record<MovieLensName, PinnedChecksum> = {
  'ml-100k': {
    bytes: 4_924_029,
    sha256: '50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229',
    md5: '0e33842e24a9c977be4e0107933c0723',
  },
  'ml-latest-small': { bytes: 978_202, sha256: '696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436' },
  'ml-1m': {
    bytes: 5_917_549,
    sha256: 'a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20',
    md5: 'c4d9eecfca2ab87c1945afe126590906',
  },
  'ml-20m': { bytes: 198_702_078, sha256: '96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3' },
  'ml-25m': { bytes: 261_978_986, sha256: '8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa' },
};

export const GROUPLENS_BASE_URL = 'https://files.grouplens.org/datasets/movielens';

const MARKER = '.netflicks-complete';

export type FetchImpl = (url: string) => Promise<Response>;

export interface FetchOptions {
  /** Default: `${XDG_CACHE_HOME:-~/.cache}/netflicks/datasets`. */
  cacheDir?: string;
  /** Default GROUPLENS_BASE_URL; the zip is `${baseUrl}/${name}.zip`. */
  baseUrl?: string;
  /** Default: global fetch. */
  fetchImpl?: FetchImpl;
  /** Bytes of the zip received so far, and its size when the server says. */
  onProgress?: (bytes: number, total: number | null) => void;
  /** Check against PINNED_CHECKSUMS; default true only for the official base URL. */
  pinned?: boolean;
  /** Expected digests (hex), checked in addition to the others. */
  sha256?: string;
  md5?: string;
  /** Accept a zip that no checksum verified (default false: refuse it). */
  allowUnverified?: boolean;
  /** Download again even when the folder is complete. */
  force?: boolean;
}

export interface FetchResult {
  /** Folder holding the dataset's files (e.g. …/ml-100k containing u.data). */
  dir: string;
  /** False when the cache already had it. */
  downloaded: boolean;
  /** How the zip was verified, e.g. ['sha256:pinned', 'md5:file']. Empty when already cached. */
  verifiedWith: string[];
}

export class ChecksumError extends Error {
  override readonly name = 'ChecksumError';
}

export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache');
  return join(base, 'netflicks', 'datasets');
}

/** Where fetchDataset puts `name` (whether or not it is there yet). */
export function datasetDir(name: MovieLensName, cacheDir = defaultCacheDir()): string {
  return join(cacheDir, name);
}

/** Downloads, verifies and unpacks a MovieLens dataset unless the cache already holds it. */
export async function fetchDataset(name: MovieLensName, opts: FetchOptions = {}): Promise<FetchResult> {
  if (!MOVIELENS_NAMES.includes(name)) throw new RangeError(`unknown dataset ${JSON.stringify(name)}; one of ${MOVIELENS_NAMES.join(', ')}`);
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir());
  const dest = join(cacheDir, name);
  if (opts.force !== true && (await exists(join(dest, MARKER)))) return { dir: dest, downloaded: false, verifiedWith: [] };

  const baseUrl = (opts.baseUrl ?? GROUPLENS_BASE_URL).replace(/\/+$/, '');
  const url = `${baseUrl}/${name}.zip`;
  const doFetch: FetchImpl = opts.fetchImpl ?? ((u) => fetch(u));
  const usePinned = opts.pinned ?? baseUrl === GROUPLENS_BASE_URL;
  await mkdir(cacheDir, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const part = join(cacheDir, `.${name}.zip.${tag}.part`);
  const staging = join(cacheDir, `.${name}.${tag}.extract`);

  try {
    const { bytes, sha256, md5 } = await download(doFetch, url, part, opts.onProgress);
    const verifiedWith: string[] = [];
    const check = (kind: 'sha256' | 'md5', source: string, expected: string, actual: string): void => {
      if (expected.toLowerCase() !== actual) {
        throw new ChecksumError(`${name}.zip ${kind} mismatch (${source}): expected ${expected.toLowerCase()}, got ${actual}; refused`);
      }
      verifiedWith.push(`${kind}:${source}`);
    };
    if (usePinned) {
      const pin = PINNED_CHECKSUMS[name];
      if (bytes !== pin.bytes) throw new ChecksumError(`${name}.zip size mismatch (pinned): expected ${pin.bytes} bytes, got ${bytes}; refused`);
      check('sha256', 'pinned', pin.sha256, sha256);
      if (pin.md5 !== undefined) check('md5', 'pinned', pin.md5, md5);
    }
    if (opts.sha256 !== undefined) check('sha256', 'option', opts.sha256, sha256);
    if (opts.md5 !== undefined) check('md5', 'option', opts.md5, md5);
    const published = await fetchMd5File(doFetch, `${url}.md5`);
    if (published !== null) check('md5', 'file', published, md5);
    if (verifiedWith.length === 0 && opts.allowUnverified !== true) {
      throw new ChecksumError(`${name}.zip: no checksum to verify it against (no pinned value for ${baseUrl}, no ${url}.md5); refused`);
    }

    await mkdir(staging);
    await extractZip(part, staging);
    const root = await singleTopFolder(staging);
    await writeFile(join(root, MARKER), `${JSON.stringify({ name, url, bytes, sha256, md5, verifiedWith, fetchedAt: new Date().toISOString() }, null, 2)}\n`);
    await rm(dest, { recursive: true, force: true });
    await rename(root, dest);
    return { dir: dest, downloaded: true, verifiedWith };
  } finally {
    await rm(part, { force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

async function download(
  doFetch: FetchImpl,
  url: string,
  path: string,
  onProgress: FetchOptions['onProgress'],
): Promise<{ bytes: number; sha256: string; md5: string }> {
  const res = await doFetch(url);
  if (!res.ok || res.body === null) throw new Error(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`);
  const length = Number(res.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? length : null;
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const file = await open(path, 'w');
  let bytes = 0;
  try {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      sha.update(value);
      md5.update(value);
      await file.write(value);
      bytes += value.length;
      onProgress?.(bytes, total);
    }
  } finally {
    await file.close();
  }
  if (total !== null && bytes !== total) throw new Error(`download of ${url} truncated: ${bytes} of ${total} bytes`);
  return { bytes, sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

/** The digest in a published .md5 file ("MD5 (x.zip) = <hex>" or "<hex>  x.zip"); null if absent. */
async function fetchMd5File(doFetch: FetchImpl, url: string): Promise<string | null> {
  let res: Response;
  try {
    res = await doFetch(url);
  } catch {
    return null;
  }
  if (!res.ok) return null;
  const m = /\b([0-9a-fA-F]{32})\b/.exec(await res.text());
  return m ? m[1].toLowerCase() : null;
}

/** Entry path inside `outDir`; rejects absolute paths and ".." (zip-slip). */
function entryPath(outDir: string, name: string): string {
  const normal = posix.normalize(name.replace(/\\/g, '/'));
  if (normal.startsWith('/') || normal.startsWith('../') || normal === '..' || /^[a-zA-Z]:/.test(normal)) {
    throw new Error(`unsafe path in zip: ${JSON.stringify(name)}`);
  }
  const full = resolve(outDir, normal);
  if (full !== outDir && !full.startsWith(outDir + sep)) throw new Error(`unsafe path in zip: ${JSON.stringify(name)}`);
  return full;
}

/**
 * Streams a zip from disk through fflate's streaming unzipper, writing each entry as it inflates:
 * memory stays at a few chunks even for ml-25m.
 */
export async function extractZip(zipPath: string, outDir: string): Promise<string[]> {
  const root = resolve(outDir);
  const written: string[] = [];
  let failure: Error | null = null;
  const unzip = new Unzip((file) => {
    if (failure !== null) return;
    try {
      if (file.name.startsWith('__MACOSX/')) return;
      const target = entryPath(root, file.name);
      if (file.name.endsWith('/')) {
        mkdirSync(target, { recursive: true });
        return;
      }
      mkdirSync(dirname(target), { recursive: true });
      const fd = openSync(target, 'w');
      let open = true;
      written.push(target);
      file.ondata = (err, data, final) => {
        if (!open) return;
        try {
          if (err) throw err;
          for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
        } catch (e) {
          failure ??= e instanceof Error ? e : new Error(String(e));
        }
        if (final || failure !== null) {
          open = false;
          closeSync(fd);
        }
      };
      file.start();
    } catch (e) {
      failure ??= e instanceof Error ? e : new Error(String(e));
    }
  });
  unzip.register(UnzipInflate);
  unzip.register(UnzipPassThrough);
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      unzip.push(chunk, final);
    } catch (e) {
      failure ??= e instanceof Error ? e : new Error(String(e));
    }
  };
  for await (const chunk of createReadStream(zipPath, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    push(chunk, false);
    if (failure !== null) break;
  }
  if (failure === null) push(new Uint8Array(0), true);
  if (failure !== null) throw new Error(`cannot unpack ${zipPath}: ${(failure as Error).message}`);
  return written;
}

/** The zip's single top-level folder (GroupLens zips hold `ml-100k/…`), else the staging folder. */
async function singleTopFolder(staging: string): Promise<string> {
  const entries = (await readdir(staging, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  if (entries.length === 1 && entries[0].isDirectory()) return join(staging, entries[0].name);
  return staging;
}

/** Reads the marker fetchDataset left, or null. */
export async function readFetchMarker(dir: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}
