import { mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { cacheRoot, embeddedDataDir, embeddedUrl, hydrateSymlinks, parsePort, probeEmbeddedPostgres, redactUrl, resolveDatabase } from '@netflicks/db';

describe('embedded PostgreSQL configuration', () => {
  test('cache folder: NETFLICKS_CACHE, else XDG_CACHE_HOME/netflicks, else ~/.cache/netflicks', () => {
    expect(cacheRoot({ NETFLICKS_CACHE: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(cacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/netflicks');
    expect(cacheRoot({})).toMatch(/\.cache\/netflicks$/);
    expect(embeddedDataDir('dev', { NETFLICKS_CACHE: '/c' })).toBe('/c/postgres/dev');
    expect(() => embeddedDataDir('../etc', {})).toThrow(/instance name/);
  });

  test("root's clusters live where the postgres user can reach them without chmod on a home folder", () => {
    expect(embeddedDataDir('dev', { XDG_CACHE_HOME: '/root/.cache' }, 0)).toBe('/var/lib/netflicks/postgres/dev');
    expect(embeddedDataDir('dev', { NETFLICKS_CACHE: '/c' }, 0)).toBe('/c/postgres/dev');
    expect(embeddedDataDir('dev', { XDG_CACHE_HOME: '/home/u/.cache' }, 1000)).toBe('/home/u/.cache/netflicks/postgres/dev');
  });

  test('ports and URLs', () => {
    expect(parsePort(undefined)).toBe(15432);
    expect(parsePort('6000')).toBe(6000);
    expect(() => parsePort('70000')).toThrow(/invalid port/);
    expect(() => parsePort('12ab')).toThrow(/invalid port/);
    expect(redactUrl('postgres://u:secret@h:5432/db')).toBe('postgres://u:***@h:5432/db');
  });

  test('resolveDatabase uses DATABASE_URL as is and owns nothing', async () => {
    const db = await resolveDatabase({ DATABASE_URL: 'postgres://u:p@db.example:5432/x' });
    expect(db).toMatchObject({ url: 'postgres://u:p@db.example:5432/x', embedded: false, reused: false });
    await db.stop();
  });
});

describe('hydrateSymlinks (binaries installed without their postinstall script)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netflicks-bin-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('creates the missing library links, relative, and is idempotent', async () => {
    await mkdir(join(dir, 'native', 'lib'), { recursive: true });
    await writeFile(join(dir, 'native', 'lib', 'libfoo.so.1.2'), 'elf');
    await writeFile(
      join(dir, 'native', 'pg-symlinks.json'),
      JSON.stringify([
        { source: 'native/lib/libfoo.so.1.2', target: 'native/lib/libfoo.so.1' },
        { source: 'native/lib/libfoo.so.1.2', target: 'native/lib/libfoo.so' },
      ]),
    );
    expect(await hydrateSymlinks(dir)).toBe(2);
    expect(await readlink(join(dir, 'native', 'lib', 'libfoo.so.1'))).toBe('libfoo.so.1.2');
    expect(await hydrateSymlinks(dir)).toBe(0);
  });

  test('a package without a link list needs nothing', async () => {
    expect(await hydrateSymlinks(dir)).toBe(0);
  });
});

test('a server that accepts and does not answer in time is asked again, not reported as an error', async () => {
  // Accepts connections and never answers (a busy or stopping server), for 6 s; then the port is
  // closed, so the next attempt is refused: "down". One 5 s connect timeout fits in the window.
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const { port } = silent.address() as AddressInfo;
  const closing = new Promise<void>((r) =>
    setTimeout(() => {
      for (const s of sockets) s.destroy();
      silent.close(() => r());
    }, 6000),
  );
  const started = Date.now();
  await expect(probeEmbeddedPostgres(embeddedUrl(port, 'postgres'), '/nonexistent')).resolves.toBe('down');
  expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
  await closing;
}, 40_000);
