/**
 * createPool's bounded waits and its clients' survival, against a real PostgreSQL (and a server
 * that accepts connections but never answers, as a hung database does).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createPool, migrate, poolTimeoutsFromEnv, withTransaction } from '@netflicks/db';
import { describePostgres } from '../../../test/support/postgres.js';

describe('poolTimeoutsFromEnv', () => {
  test('reads the variables set, and names every malformed one', () => {
    expect(poolTimeoutsFromEnv({})).toEqual({});
    expect(poolTimeoutsFromEnv({ DATABASE_CONNECT_TIMEOUT_MS: '2500', DATABASE_STATEMENT_TIMEOUT_MS: '0' })).toEqual({ connectTimeoutMs: 2500, statementTimeoutMs: 0 });
    expect(() => poolTimeoutsFromEnv({ DATABASE_CONNECT_TIMEOUT_MS: '0', DATABASE_STATEMENT_TIMEOUT_MS: '5s' })).toThrow(
      'invalid database timeouts: DATABASE_CONNECT_TIMEOUT_MS: expected milliseconds, an integer from 1 to 86400000; DATABASE_STATEMENT_TIMEOUT_MS: expected milliseconds, an integer from 0 to 86400000',
    );
  });
});

describe('a database that accepts connections and never answers', () => {
  let server: Server;
  const sockets: Socket[] = [];
  let port = 0;
  beforeAll(async () => {
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a query fails after the connect timeout instead of hanging', async () => {
    const pool = createPool(`postgres://u:p@127.0.0.1:${port}/db`, { connectTimeoutMs: 300 });
    const started = Date.now();
    await expect(pool.query('SELECT 1')).rejects.toThrow(/timeout/i);
    expect(Date.now() - started).toBeLessThan(3000);
    await pool.end();
  });
});

await describePostgres('createPool against PostgreSQL', (db) => {
  test('sessions get the statement and idle-in-transaction timeouts; a statement past it is cancelled', async () => {
    const pool = createPool(db.url, { max: 1, statementTimeoutMs: 250, idleInTransactionTimeoutMs: 5000 });
    try {
      const { rows } = await pool.query<{ s: string; i: string }>("SELECT current_setting('statement_timeout') AS s, current_setting('idle_in_transaction_session_timeout') AS i");
      expect(rows[0]).toEqual({ s: '250ms', i: '5s' });
      await expect(pool.query('SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
      // Migrations lift it for their session only: the client goes back to the pool with it.
      await migrate(pool);
      expect((await pool.query<{ s: string }>("SELECT current_setting('statement_timeout') AS s")).rows[0].s).toBe('250ms');
    } finally {
      await pool.end();
    }
  });

  test('a checked-out client whose backend is terminated mid-transaction fails that transaction, not the process', async () => {
    const pool = createPool(db.url, { max: 1, applicationName: 'netflicks-pool-test' });
    try {
      const pid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const failure = withTransaction(pool, async (client) => {
        await client.query('SELECT 1');
        await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
        // The termination arrives while no query is running on this client, then the next one fails.
        await new Promise((r) => setTimeout(r, 200));
        await client.query('SELECT 2');
      });
      await expect(failure).rejects.toThrow(/terminat|not queryable/i);
      // The broken client was discarded: the pool hands out a working one.
      expect((await pool.query<{ n: number }>('SELECT 3 AS n')).rows[0].n).toBe(3);
    } finally {
      await pool.end();
    }
  });
});
