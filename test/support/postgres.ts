/**
 * Real-PostgreSQL tests: one server for the whole run, a fresh database per describe block.
 *
 * The server is DATABASE_URL's when set (its role needs CREATEDB), otherwise the embedded one
 * (instance "test", port NETFLICKS_TEST_PG_PORT or 54339, never the dev instance). Jest runs test
 * files in several worker processes: each file holds a shared advisory lock (a "lease") on the
 * server while it runs; the process that started the server stops it at the end of its file
 * only if it can take the lock exclusively, i.e. no other file is using it (otherwise the server
 * stops when that process exits, after the whole run).
 *
 * If no server can be had: with CI set the test file FAILS (a database suite must never pass by
 * skipping in CI); locally it is skipped with a console message saying why.
 *
 *   await describePostgres('ratings', (db) => {
 *     test('…', async () => { await db.pool.query('…'); });
 *   });
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, describeError, migrate, parsePort, redactUrl, startEmbeddedPostgres, type DatabaseHandle } from '@netflicks/db';

export const TEST_PORT = parsePort(process.env.NETFLICKS_TEST_PG_PORT, 54339);
const LEASE_KEY = '7310475163021870451'; // any constant bigint, the same in every worker
const DB_PREFIX = 'netflicks_t_';
/** Test databases older than this were left by a killed run: dropped on the next start. */
const STALE_SECONDS = 6 * 3600;

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
}

export interface PostgresTestContext {
  /** The block's fresh database (migrated unless { migrate: false }); valid inside tests and hooks. */
  readonly pool: pg.Pool;
  readonly url: string;
  /** Another fresh database, dropped after the block. */
  createDatabase(opts?: { migrate?: boolean }): Promise<TestDatabase>;
}

export interface DescribePostgresOptions {
  /** Apply the package migrations to the block's database (default true). */
  migrate?: boolean;
}

interface Server {
  adminUrl: string;
  urlFor(database: string): string;
  release(): Promise<void>;
}

export function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

export async function describePostgres(title: string, body: (db: PostgresTestContext) => void, opts: DescribePostgresOptions = {}): Promise<void> {
  let server: Server;
  try {
    server = await shareServer();
  } catch (err) {
    const reason = `PostgreSQL is not available: ${describeError(err)}`;
    if (inCi()) throw new Error(`${reason}\n(CI is set: database tests fail rather than skip)`, { cause: err });
    console.warn(`SKIPPING "${title}": ${reason}\nSet DATABASE_URL, or make the embedded server startable, to run these tests.`);
    describe.skip(title, () => body(unavailable(reason)));
    return;
  }

  const databases: TestDatabase[] = [];
  let main: TestDatabase | undefined;
  const create = async (migrateIt: boolean): Promise<TestDatabase> => {
    const db = await createDatabase(server, migrateIt);
    databases.push(db);
    return db;
  };
  const ctx: PostgresTestContext = {
    get pool() {
      if (!main) throw new Error('describePostgres: the database is created in beforeAll; use db.pool inside tests or hooks');
      return main.pool;
    },
    get url() {
      if (!main) throw new Error('describePostgres: the database is created in beforeAll; use db.url inside tests or hooks');
      return main.url;
    },
    createDatabase: (o = {}) => create(o.migrate ?? true),
  };

  describe(title, () => {
    beforeAll(async () => {
      main = await create(opts.migrate ?? true);
    });
    afterAll(async () => {
      try {
        for (const db of databases) await dropDatabase(server, db);
      } finally {
        await server.release();
      }
    });
    body(ctx);
  });
}

// One lease per test file (jest gives each file its own module instance), shared by its blocks.
let shared: { server: Promise<Server>; users: number } | undefined;

async function shareServer(): Promise<Server> {
  if (!shared) {
    const state = { server: acquireServer(), users: 0 };
    shared = state;
    state.server.catch(() => {
      if (shared === state) shared = undefined;
    });
  }
  const state = shared;
  const server = await state.server;
  state.users++;
  return {
    ...server,
    release: async () => {
      if (--state.users > 0) return;
      if (shared === state) shared = undefined;
      await server.release();
    },
  };
}

function unavailable(reason: string): PostgresTestContext {
  const fail = (): never => {
    throw new Error(reason);
  };
  return {
    get pool(): pg.Pool {
      return fail();
    },
    get url(): string {
      return fail();
    },
    createDatabase: async () => fail(),
  };
}

async function acquireServer(): Promise<Server> {
  const external = process.env.DATABASE_URL;
  if (external) {
    const admin = await connect(external);
    await dropStaleDatabases(admin).finally(() => admin.end());
    return { adminUrl: external, urlFor: (db) => withDatabase(external, db), release: async () => {} };
  }
  let lastError: unknown;
  // Retries cover a server that another file's process is stopping just as we arrive.
  for (let attempt = 0; attempt < 5; attempt++) {
    let handle: DatabaseHandle | undefined;
    let lease: pg.Client | undefined;
    try {
      handle = await startEmbeddedPostgres({
        name: 'test',
        port: TEST_PORT,
        database: 'postgres',
        // Throwaway data: durability off for speed.
        settings: { fsync: 'off', full_page_writes: 'off' },
      });
      lease = await connect(handle.url);
      await lease.query('SELECT pg_advisory_lock_shared($1)', [LEASE_KEY]);
      if (!handle.reused) await dropStaleDatabases(lease);
      return embeddedServer(handle, lease);
    } catch (err) {
      lastError = err;
      await lease?.end().catch(() => {});
      await handle?.stop().catch(() => {});
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  throw lastError;
}

function embeddedServer(handle: DatabaseHandle, lease: pg.Client): Server {
  return {
    adminUrl: handle.url,
    urlFor: (db) => withDatabase(handle.url, db),
    release: async () => {
      let stop = false;
      try {
        await lease.query('SELECT pg_advisory_unlock_shared($1)', [LEASE_KEY]);
        // We started it: stop it unless another file (another worker) still holds a lease.
        if (!handle.reused) stop = (await lease.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEASE_KEY])).rows[0].ok;
      } finally {
        await lease.end().catch(() => {});
      }
      if (stop) await handle.stop();
    },
  };
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {}); // surfaced by the next query
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to ${redactUrl(url)}: ${describeError(err)}`, { cause: err });
  }
  return client;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function createDatabase(server: Server, migrateIt: boolean): Promise<TestDatabase> {
  const name = `${DB_PREFIX}${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  const admin = await connect(server.adminUrl);
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = server.urlFor(name);
  const pool = createPool(url, { max: 8, applicationName: 'netflicks-test' });
  if (migrateIt) await migrate(pool);
  return { name, url, pool };
}

async function dropDatabase(server: Server, db: TestDatabase): Promise<void> {
  await db.pool.end();
  const admin = await connect(server.adminUrl);
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

async function dropStaleDatabases(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'netflicks\\_t\\_%'");
  const now = Date.now() / 1000;
  for (const { datname } of rows) {
    const created = Number(/^netflicks_t_(\d+)_[0-9a-f]+$/.exec(datname)?.[1]);
    if (created > 0 && now - created > STALE_SECONDS) {
      await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {});
    }
  }
}
