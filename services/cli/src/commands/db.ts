/**
 * `netflicks db migrate` and `netflicks db import`: against DATABASE_URL (or --database-url), else
 * the embedded PostgreSQL in the cache (started for the command, stopped after it).
 */
import { Command } from 'commander';
import { createPool, importDataset, migrate, redactUrl, resolveDatabase, type MigrateResult } from '@netflicks/db';
import { addDatasetOptions, loadWithProgress, type DatasetFlags } from '../dataset-options.js';
import { JSON_ALWAYS, integer } from '../flags.js';
import { createProgress } from '../progress.js';

interface ConnectionFlags {
  databaseUrl?: string;
  quiet?: boolean;
}

interface ImportFlags extends DatasetFlags, ConnectionFlags {
  seed: number;
}

interface Connected {
  pool: ReturnType<typeof createPool>;
  /** Where the data went, password redacted. */
  database: string;
  migrations: MigrateResult;
}

const URL_HELP = 'PostgreSQL URL (default: $DATABASE_URL, else the embedded server in the cache; port $NETFLICKS_PG_PORT or 15432)';

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('PostgreSQL: schema migrations and dataset import');

  db.command('migrate')
    .description('apply pending schema migrations')
    .option('--database-url <url>', URL_HELP)
    .option('--quiet', 'no notices on stderr')
    .option('--json', JSON_ALWAYS)
    .action(async (flags: ConnectionFlags) => {
      const summary = await withDatabase(flags, async ({ database, migrations }) => ({
        database,
        applied: migrations.applied,
        version: migrations.version,
      }));
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });

  const imp = db
    .command('import')
    .description('load a dataset (movies, genres, users, latest ratings and rating history) with COPY; migrates first');
  addDatasetOptions(imp)
    .option('--seed <n>', 'synthetic: random seed', integer, 42)
    .option('--database-url <url>', URL_HELP)
    .option('--quiet', 'no progress on stderr')
    .option('--json', JSON_ALWAYS)
    .action(async (flags: ImportFlags) => {
      const summary = await withDatabase(flags, async ({ pool, database, migrations }) => {
        const dataset = await loadWithProgress(flags, flags.seed, flags.quiet === true);
        const progress = createProgress('importing into PostgreSQL', { quiet: flags.quiet });
        const result = await importDataset(pool, dataset, { onProgress: (f, m) => progress.update(f, m) });
        progress.done(`${result.history} ratings`);
        return {
          database,
          migrationsApplied: migrations.applied,
          ...result,
          ratingsPerSecond: Math.round(dataset.ratings.length / Math.max(result.seconds, 1e-3)),
        };
      });
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}

/** Resolves the database, migrates it, runs fn, and always releases the pool and any server we started. */
async function withDatabase<T>(flags: ConnectionFlags, fn: (c: Connected) => Promise<T>): Promise<T> {
  const notice = (message: string): void => {
    if (!flags.quiet) process.stderr.write(`${message}\n`);
  };
  const env = flags.databaseUrl ? { ...process.env, DATABASE_URL: flags.databaseUrl } : process.env;
  if (!env.DATABASE_URL) notice('no DATABASE_URL: using the embedded PostgreSQL');
  const handle = await resolveDatabase(env, { onNotice: notice });
  const pool = createPool(handle.url);
  try {
    const database = handle.embedded ? `embedded ${redactUrl(handle.url)}` : redactUrl(handle.url);
    const migrations = await migrate(pool, { log: notice });
    return await fn({ pool, database, migrations });
  } finally {
    await pool.end();
    await handle.stop();
  }
}
