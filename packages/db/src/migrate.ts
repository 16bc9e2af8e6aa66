/**
 * Forward-only SQL migrations: `migrations/NNNN_name.sql`, applied in version order, each in its
 * own transaction, recorded in schema_migrations with a checksum. A session advisory lock makes
 * concurrent starters (several service replicas, test workers) apply each migration exactly once.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { describeError } from './errors.js';

/** The package's own migrations (next to src/ and dist/). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

/** Arbitrary constant shared by every netflicks process: "nflx-mig" in ASCII. */
export const MIGRATION_LOCK_KEY = 0x6e666c782d6d6967n;

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  /** sha256 of the file with line endings normalised (a CRLF checkout is the same migration). */
  checksum: string;
}

export interface MigrateOptions {
  /** Folder of NNNN_name.sql files; default MIGRATIONS_DIR. */
  dir?: string;
  log?: (message: string) => void;
}

export interface MigrateResult {
  /** Files applied by this call, in order. */
  applied: string[];
  /** Highest version in the database afterwards (0: none). */
  version: number;
}

/** A migration problem that needs a person: edited, missing or out-of-order files, or a failed one. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export function checksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  } catch (err) {
    throw new MigrationError(`cannot read migrations folder ${dir}: ${describeError(err)}`);
  }
  const out: Migration[] = [];
  for (const file of files) {
    const m = FILE_PATTERN.exec(file);
    if (!m) throw new MigrationError(`migration file ${file} in ${dir} is not named NNNN_lowercase_name.sql`);
    const version = Number(m[1]);
    if (version === 0) throw new MigrationError(`migration ${file}: versions start at 0001`);
    const prev = out.at(-1);
    if (prev && prev.version === version) throw new MigrationError(`migrations ${prev.file} and ${file} share version ${m[1]}`);
    const sql = await readFile(join(dir, file), 'utf8');
    out.push({ version, name: m[2], file, sql, checksum: checksum(sql) });
  }
  return out;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/** Brings the database up to date. Safe to call from several processes at once. */
export async function migrate(pool: pg.Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const log = opts.log ?? (() => {});
  const migrations = await readMigrations(opts.dir);
  const client = await pool.connect();
  let broken = false;
  try {
    // Waiting for another migrator, and a migration rewriting a large table, may outlast the
    // pool's statement timeout: this session has none (RESET below, before it goes back).
    await client.query('SET statement_timeout = 0');
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATION_LOCK_KEY.toString()]);
    if (!rows[0].ok) {
      log('another process is migrating this database; waiting for it');
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    }
    try {
      return await migrateLocked(client, migrations, log);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => {
        broken = true; // a session that may still hold the lock must not go back to the pool
      });
    }
  } catch (err) {
    if (!(err instanceof MigrationError)) broken = true;
    throw err;
  } finally {
    if (!broken) {
      await client.query('RESET statement_timeout').catch(() => {
        broken = true;
      });
    }
    client.release(broken);
  }
}

async function migrateLocked(client: pg.PoolClient, migrations: Migration[], log: (m: string) => void): Promise<MigrateResult> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
  )`);
  const { rows: applied } = await client.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  const onDisk = new Map(migrations.map((m) => [m.version, m]));
  for (const row of applied) {
    const m = onDisk.get(row.version);
    const label = `${String(row.version).padStart(4, '0')}_${row.name}`;
    if (!m) throw new MigrationError(`the database has migration ${label}, which this code does not know; run a newer version`);
    if (m.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${m.file} was edited after it was applied (checksum ${m.checksum.slice(0, 12)} on disk, ` +
          `${row.checksum.slice(0, 12)} in the database); restore it and add a new migration instead`,
      );
    }
  }
  const latest = applied.at(-1)?.version ?? 0;
  const appliedSet = new Set(applied.map((r) => r.version));
  const pending = migrations.filter((m) => !appliedSet.has(m.version));
  const early = pending.find((m) => m.version < latest);
  if (early) {
    throw new MigrationError(`migration ${early.file} is older than the applied version ${latest}; migrations are forward-only, renumber it`);
  }
  const done: string[] = [];
  for (const m of pending) {
    const t0 = performance.now();
    try {
      await client.query('BEGIN');
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw new MigrationError(`migration ${m.file} failed and was rolled back: ${describeError(err)}${where(m.sql, err)}`);
    }
    done.push(m.file);
    log(`applied ${m.file} in ${Math.round(performance.now() - t0)} ms`);
  }
  return { applied: done, version: pending.at(-1)?.version ?? latest };
}

/** " (line N)" from PostgreSQL's error position (a character offset into the file). */
function where(sql: string, err: unknown): string {
  const position = Number((err as { position?: string }).position);
  if (!Number.isInteger(position) || position <= 0) return '';
  return ` (line ${sql.slice(0, position - 1).split('\n').length})`;
}
