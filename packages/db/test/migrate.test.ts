import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS_DIR, MigrationError, createPool, migrate, readMigrations } from '@netflicks/db';
import { describePostgres } from '../../../test/support/postgres.js';

describe('readMigrations', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netflicks-mig-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the package migrations are well named, numbered from 0001 without gaps', async () => {
    const ms = await readMigrations(MIGRATIONS_DIR);
    expect(ms.length).toBeGreaterThan(0);
    expect(ms.map((m) => m.version)).toEqual(ms.map((_, i) => i + 1));
    expect((await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql'))).toHaveLength(ms.length);
  });

  test('rejects badly named files and duplicate versions', async () => {
    await writeFile(join(dir, '0001_ok.sql'), 'SELECT 1;');
    await writeFile(join(dir, '1_bad.sql'), 'SELECT 1;');
    await expect(readMigrations(dir)).rejects.toThrow(/1_bad\.sql .*not named NNNN_/);
    await rm(join(dir, '1_bad.sql'));
    await writeFile(join(dir, '0001_twin.sql'), 'SELECT 1;');
    await expect(readMigrations(dir)).rejects.toThrow(/share version 0001/);
  });

  test('checksums ignore CRLF line endings', async () => {
    await writeFile(join(dir, '0001_a.sql'), 'SELECT 1;\nSELECT 2;\n');
    await writeFile(join(dir, '0002_b.sql'), 'SELECT 1;\r\nSELECT 2;\r\n');
    const [a, b] = await readMigrations(dir);
    expect(a.checksum).toBe(b.checksum);
  });
});

await describePostgres(
  'migrate (real PostgreSQL)',
  (db) => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'netflicks-mig-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('applies the package migrations once, even when two processes start together', async () => {
      const fresh = await db.createDatabase({ migrate: false });
      // Two pools: two independent "starters" racing on the same database.
      const other = createPool(fresh.url);
      try {
        const [a, b] = await Promise.all([migrate(fresh.pool), migrate(other)]);
        const all = (await readMigrations()).map((m) => m.file);
        expect([...a.applied, ...b.applied].sort()).toEqual(all);
        expect(a.version).toBe(all.length);
        expect(b.version).toBe(all.length);
        const { rows } = await fresh.pool.query<{ version: number; n: string }>(
          'SELECT version, count(*) OVER () AS n FROM schema_migrations ORDER BY version',
        );
        expect(rows.map((r) => r.version)).toEqual(all.map((_, i) => i + 1));
        // A third run is a no-op.
        expect(await migrate(fresh.pool)).toEqual({ applied: [], version: all.length });
      } finally {
        await other.end();
      }
    });

    test('creates the core tables', async () => {
      const { rows } = await db.pool.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
      );
      expect(rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining([
          'dataset_imports',
          'genres',
          'movie_genres',
          'movies',
          'processed_events',
          'rating_history',
          'ratings',
          'recommendation_requests',
          'schema_migrations',
          'users',
          'watch_events',
        ]),
      );
    });

    test('refuses an edited, already-applied migration', async () => {
      const fresh = await db.createDatabase({ migrate: false });
      await writeFile(join(dir, '0001_first.sql'), 'CREATE TABLE a (x int);');
      expect((await migrate(fresh.pool, { dir })).applied).toEqual(['0001_first.sql']);
      await writeFile(join(dir, '0001_first.sql'), 'CREATE TABLE a (x bigint);');
      await expect(migrate(fresh.pool, { dir })).rejects.toThrow(MigrationError);
      await expect(migrate(fresh.pool, { dir })).rejects.toThrow(/0001_first\.sql was edited after it was applied/);
    });

    test('runs each migration in its own transaction: a failure rolls back only that one', async () => {
      const fresh = await db.createDatabase({ migrate: false });
      await writeFile(join(dir, '0001_good.sql'), 'CREATE TABLE good (x int);');
      await writeFile(join(dir, '0002_bad.sql'), 'CREATE TABLE half (x int);\nINSERT INTO nowhere VALUES (1);');
      await expect(migrate(fresh.pool, { dir })).rejects.toThrow(/0002_bad\.sql failed and was rolled back: relation "nowhere" does not exist \(line 2\)/);
      const { rows } = await fresh.pool.query<{ good: string | null; half: string | null }>("SELECT to_regclass('good') AS good, to_regclass('half') AS half");
      expect(rows[0]).toEqual({ good: 'good', half: null });
      const applied = await fresh.pool.query('SELECT version FROM schema_migrations');
      expect(applied.rows).toEqual([{ version: 1 }]);
      // Fixed: the next run applies it.
      await writeFile(join(dir, '0002_bad.sql'), 'CREATE TABLE half (x int);');
      expect((await migrate(fresh.pool, { dir })).applied).toEqual(['0002_bad.sql']);
    });

    test('is forward-only: refuses a new migration numbered below the applied version, and unknown applied ones', async () => {
      const fresh = await db.createDatabase({ migrate: false });
      await writeFile(join(dir, '0002_second.sql'), 'CREATE TABLE b (x int);');
      await migrate(fresh.pool, { dir });
      await writeFile(join(dir, '0001_late.sql'), 'CREATE TABLE c (x int);');
      await expect(migrate(fresh.pool, { dir })).rejects.toThrow(/0001_late\.sql is older than the applied version 2/);
      await rm(join(dir, '0001_late.sql'));
      await rm(join(dir, '0002_second.sql'));
      await expect(migrate(fresh.pool, { dir })).rejects.toThrow(/has migration 0002_second, which this code does not know/);
    });
  },
  { migrate: true },
);
