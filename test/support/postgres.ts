/**
 * Real-PostgreSQL tests: one server for the whole run, a fresh database per describe block.
 *
 * The server is DATABASE_URL's when set (its role needs CREATEDB), otherwise the embedded one
 * (instance "test", or "test-<port>" on another port: NETFLICKS_TEST_PG_PORT, default 15439; never
 * the dev instance); its data directory stays in the cache, so it starts in a fraction of a
 * second after the first run.
 * Jest runs files in several worker processes (or one after the other in one): while a block
 * runs it holds a shared advisory lock on the server (a lease); when a block ends and no other
 * holds one, the server is stopped (whichever process started it). The server never keeps a
 * test process alive, so even a run whose blocks were all filtered out exits.
 *
 * A server this run started and that is still up when the run ends is stopped by the run's
 * teardown (test/support/jest-global-teardown.js), also on Ctrl-C.
 *
 * A server that fails to start FAILS the test file, with the server's own error: PostgreSQL is
 * part of every run. Only where no embedded binaries exist for the platform (and DATABASE_URL is
 * unset) is the suite skipped by name (failing under CI, as every missing infrastructure does).
 *
 *   await describePostgres('ratings', (db) => {
 *     test('…', async () => { await db.pool.query('…'); });
 *   });
 *   // a suite that also needs something else: skipped by name when that is missing
 *   await (kube ? describePostgres : describePostgres.skip)('operator', (db) => { … });
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, describeError, embeddedDataDir, migrate, parsePort, platformPackageDir, redactUrl, startEmbeddedPostgres, stopEmbeddedPostgres } from '@netflicks/db';
import { skipOrFail } from './skip.js';
import { recordPostgresStarted, runDir, TEST_PG_INSTANCE as INSTANCE, TEST_PG_LEASE_KEY as LEASE_KEY } from './test-run.js';

export const TEST_PORT = parsePort(process.env.NETFLICKS_TEST_PG_PORT, 15439);
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
  /** Takes a lease (embedded server only); the returned function gives it back. */
  lease(): Promise<() => Promise<void>>;
}

// Per test file (jest gives each file its own module instance): started or found once.
let shared: Promise<Server> | undefined;

export async function describePostgres(title: string, body: (db: PostgresTestContext) => void, opts: DescribePostgresOptions = {}): Promise<void> {
  const noBinaries = process.env.DATABASE_URL ? undefined : missingBinaries();
  if (noBinaries) {
    skipOrFail({ suite: title, needs: 'PostgreSQL', enable: 'set DATABASE_URL (its role needs CREATEDB)', reason: noBinaries });
    describePostgres.skip(title, body);
    return;
  }
  let server: Server;
  try {
    server = await (shared ??= acquireServer());
  } catch (err) {
    shared = undefined;
    throw new Error(`"${title}" needs PostgreSQL, which is not available: ${describeError(err)}`, { cause: err });
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

  let giveBack: (() => Promise<void>) | undefined;
  describe(title, () => {
    beforeAll(async () => {
      giveBack = await server.lease();
      main = await create(opts.migrate ?? true);
    });
    afterAll(async () => {
      try {
        for (const db of databases) await dropDatabase(server, db);
      } finally {
        await giveBack?.();
      }
    });
    body(ctx);
  });
}

/** Registers the suite's tests as skipped, without a server (the caller has said why). */
describePostgres.skip = (title: string, body: (db: PostgresTestContext) => void): void => {
  describe.skip(title, () => body(unavailable(`"${title}" is skipped`)));
};

function missingBinaries(): string | undefined {
  try {
    platformPackageDir();
    return undefined;
  } catch (err) {
    return describeError(err);
  }
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
    return { adminUrl: external, urlFor: (db) => withDatabase(external, db), lease: async () => async () => {} };
  }
  const url = await startTestServer();
  return { adminUrl: url, urlFor: (db) => withDatabase(url, db), lease: leaseEmbedded };
}

async function startTestServer(): Promise<string> {
  const handle = await startEmbeddedPostgres({
    name: INSTANCE,
    port: TEST_PORT,
    database: 'postgres',
    // Throwaway data: durability off for speed.
    settings: { fsync: 'off', full_page_writes: 'off' },
    keepProcessAlive: false,
  });
  if (!handle.reused) {
    const run = runDir();
    if (run) recordPostgresStarted(run, { dataDir: embeddedDataDir(INSTANCE), port: TEST_PORT });
    const admin = await connect(handle.url);
    await dropStaleDatabases(admin).finally(() => admin.end());
  }
  return handle.url;
}

/**
 * Holds a shared advisory lock for the block. Retries cover a server being stopped by another
 * process just as we arrive (its exclusive lock blocks us, then the shutdown ends our session).
 */
async function leaseEmbedded(): Promise<() => Promise<void>> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    let client: pg.Client | undefined;
    try {
      client = await connect(await startTestServer());
      await client.query('SELECT pg_advisory_lock_shared($1)', [LEASE_KEY]);
      const held = client;
      return async () => {
        let last = false;
        try {
          await held.query('SELECT pg_advisory_unlock_shared($1)', [LEASE_KEY]);
          last = (await held.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEASE_KEY])).rows[0].ok;
        } finally {
          // Stopping while still holding the exclusive lock: newcomers wait, then retry.
          if (last) await stopEmbeddedPostgres({ name: INSTANCE });
          await held.end().catch(() => {});
        }
      };
    } catch (err) {
      lastError = err;
      await client?.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  throw lastError;
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
