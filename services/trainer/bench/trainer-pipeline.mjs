#!/usr/bin/env node
// Benchmark: the whole training run (snapshot → train → evaluate → refit → register) against a
// real PostgreSQL holding a synthetic dataset of a given size. Prints one JSON line.
//   node services/trainer/bench/trainer-pipeline.mjs --size 100k|1m [--runs 3] [--threads 2]
// Uses the embedded server instance "bench" (port 54349) unless DATABASE_URL is set; the data is
// imported once per size and reused by later runs. Needs `tsc -b` (npm run bench does it).
import { parseArgs } from 'node:util';
import { generateSynthetic } from '@netflicks/data';
import { createPool, importDataset, migrate, resolveDatabase, startEmbeddedPostgres } from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { loadTrainerConfig, runTrainer } from '@netflicks/trainer';

const SIZES = {
  '100k': { users: 943, movies: 1682, ratings: 100_000 },
  '1m': { users: 6040, movies: 3706, ratings: 1_000_209 },
};
const { values } = parseArgs({
  options: { size: { type: 'string', default: '100k' }, runs: { type: 'string', default: '3' }, threads: { type: 'string', default: '2' } },
});
const size = SIZES[values.size];
if (!size) throw new Error(`--size must be one of ${Object.keys(SIZES).join(', ')}`);
const database = `netflicks_bench_${values.size}`;
const handle = process.env.DATABASE_URL
  ? await resolveDatabase(process.env)
  : await startEmbeddedPostgres({ name: 'bench', port: 54349, database });
const pool = createPool(handle.url, { max: 4 });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
try {
  await migrate(pool);
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM ratings');
  if (rows[0].n !== size.ratings) {
    await pool.query('TRUNCATE movies, users, ratings, rating_history, dataset_imports CASCADE');
    const { dataset } = generateSynthetic({ ...size, seed: 1 });
    const t0 = performance.now();
    await importDataset(pool, dataset);
    process.stderr.write(`imported ${dataset.ratings.length} ratings in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    await pool.query('ANALYZE');
  }
  const cfg = loadTrainerConfig({ MODEL_NAME: `bench-${values.size}`, THREADS: values.threads });
  const log = createLogger({ component: 'bench', level: 'warn', destination: process.stderr });
  const progress = () => ({ update() {}, done() {} });
  const runs = [];
  for (let r = 0; r < Number(values.runs); r++) {
    const t0 = performance.now();
    const { summary } = await runTrainer(cfg, { pool, log, progress });
    runs.push({ seconds: (performance.now() - t0) / 1000, timings: summary.timings, version: summary.version, metrics: summary.metrics });
    process.stderr.write(`run ${r + 1}: ${runs.at(-1).seconds.toFixed(2)} s ${JSON.stringify(summary.timings)}\n`);
  }
  const stages = Object.keys(runs[0].timings);
  process.stdout.write(
    `${JSON.stringify({
      size: values.size,
      ratings: size.ratings,
      threads: Number(values.threads),
      medianSeconds: median(runs.map((r) => r.seconds)),
      runs: runs.map((r) => r.seconds),
      medianStages: Object.fromEntries(stages.map((s) => [s, median(runs.map((r) => r.timings[s]))])),
      metrics: runs.at(-1).metrics,
    })}\n`,
  );
} finally {
  await pool.end();
  await handle.stop();
}
