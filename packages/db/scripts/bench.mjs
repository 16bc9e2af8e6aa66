#!/usr/bin/env node
// Measures bulk import and ingest batch throughput on a throwaway database of the embedded server
// (or DATABASE_URL's). Build first (npx tsc -b). Usage:
//   node packages/db/scripts/bench.mjs import [ml-100k|2m|ml-20m]
//   node packages/db/scripts/bench.mjs ingest [events=400000] [batch=2000] [consumers=1]
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { generateSynthetic, SYNTHETIC_PRESETS } from '@netflicks/data';
import pg from 'pg';
import {
  applyEventBatch,
  createPool,
  importDataset,
  loadMovies,
  loadTrainingRatings,
  migrate,
  resolveDatabase,
  withTransaction,
} from '../dist/index.js';

const [mode = 'import', ...args] = process.argv.slice(2);
const handle = await resolveDatabase(process.env, {
  name: 'bench',
  port: 54349,
  // BENCH_LOG=1: statements over 100 ms, from the server's log.
  ...(process.env.BENCH_LOG ? { settings: { log_min_duration_statement: 100, log_checkpoints: 'on' }, log: (l) => /duration|checkpoint/.test(l) && console.log(l.slice(0, 220)) } : {}),
});
const admin = new pg.Client(handle.url);
await admin.connect();
const dbName = `bench_${Date.now()}`;
await admin.query(`CREATE DATABASE ${dbName}`);
const url = new URL(handle.url);
url.pathname = `/${dbName}`;
const pool = createPool(url.toString(), { max: 8 });
const secs = (t0) => (performance.now() - t0) / 1000;

try {
  await migrate(pool);
  if (mode === 'import') await benchImport(args[0] ?? 'ml-100k');
  else if (mode === 'ingest') await benchIngest(Number(args[0] ?? 400_000), Number(args[1] ?? 2000), Number(args[2] ?? 1));
  else throw new Error(`unknown mode ${mode}`);
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
  await admin.end();
  await handle.stop();
}

async function benchImport(size) {
  const opts =
    size === 'ml-20m' ? SYNTHETIC_PRESETS['ml-20m'] : size === '2m' ? { users: 14_000, movies: 10_000, ratings: 2_000_000, halfStars: true } : SYNTHETIC_PRESETS['ml-100k'];
  let t0 = performance.now();
  const { dataset } = generateSynthetic(opts);
  console.log(`generated ${dataset.ratings.length} ratings, ${dataset.movies.length} movies in ${secs(t0).toFixed(1)} s`);
  t0 = performance.now();
  let last = -1;
  const res = await importDataset(pool, dataset, {
    onProgress: (f, m) => {
      const d = Math.floor(f * 10);
      if (d > last) {
        last = d;
        console.log(`  ${(f * 100).toFixed(0)}% ${m ?? ''} ${secs(t0).toFixed(1)} s`);
      }
    },
  });
  const s = secs(t0);
  const rows = res.history + res.ratings + res.users + res.movies + res.movieGenres;
  console.log(JSON.stringify({ ...res, rowsWritten: rows, rowsPerSecond: Math.round(rows / s), ratingsPerSecond: Math.round(dataset.ratings.length / s) }));
  t0 = performance.now();
  const back = await loadTrainingRatings(pool);
  const tl = secs(t0);
  t0 = performance.now();
  const movies = await loadMovies(pool);
  console.log(`loadTrainingRatings: ${back.length} rows in ${tl.toFixed(2)} s (${Math.round(back.length / tl)} rows/s); loadMovies: ${movies.length} in ${secs(t0).toFixed(2)} s`);
  const { rows: size2 } = await pool.query('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
  console.log(`database size ${size2[0].size}`);
}

async function benchIngest(total, batchSize, consumers) {
  const movies = 10_000;
  const users = 100_000;
  // Steady state after a bootstrap import: the catalogue and the users exist; ~1% of events
  // come from users never seen before.
  await pool.query("INSERT INTO movies (id, title) SELECT g, 'Movie ' || g FROM generate_series(1, $1) g", [movies]);
  await pool.query("INSERT INTO users (id, first_seen) SELECT g, '2023-01-01Z' FROM generate_series(1, $1) g", [users]);
  let nextNewUser = users + 1;
  const base = Date.UTC(2024, 0, 1);
  let n = 0;
  const makeBatch = () => {
    const batch = [];
    for (let i = 0; i < batchSize; i++, n++) {
      const userId = Math.random() < 0.01 ? nextNewUser++ : 1 + Math.floor(Math.random() * users);
      const movieId = 1 + Math.floor(Math.random() * movies);
      const occurredAt = new Date(base + Math.floor(Math.random() * 86_400_000 * 30)).toISOString();
      const eventId = randomUUID();
      const r = Math.random();
      if (r < 0.7) batch.push({ eventId, type: 'rating', schemaVersion: 1, userId, movieId, rating: 0.5 * (1 + Math.floor(Math.random() * 10)), occurredAt });
      else if (r < 0.9) batch.push({ eventId, type: 'watch', schemaVersion: 1, userId, movieId, watchedSeconds: Math.floor(Math.random() * 7200), completed: Math.random() < 0.5, occurredAt });
      else batch.push({ eventId, type: 'recommendation', schemaVersion: 1, userId, items: Array.from({ length: 10 }, (_, k) => 1 + ((movieId + k) % movies)), strategy: 'hybrid', modelVersion: 'v1', requestId: randomUUID(), occurredAt });
    }
    return batch;
  };
  // 10% redeliveries: each batch repeats some events of the previous one.
  const batches = [];
  for (let done = 0; done < total; done += batchSize) {
    const b = makeBatch();
    const prev = batches.at(-1);
    if (prev) b.splice(0, Math.floor(batchSize / 10), ...prev.slice(0, Math.floor(batchSize / 10)));
    batches.push(b);
  }
  // Warm-up (plans, caches) on a few batches of their own.
  for (let i = 0; i < 3; i++) await withTransaction(pool, (c) => applyEventBatch(c, makeBatch()));
  const t0 = performance.now();
  let applied = 0;
  let duplicates = 0;
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const b = batches[next++];
      const r = await withTransaction(pool, (c) => applyEventBatch(c, b));
      applied += r.applied;
      duplicates += r.duplicates;
    }
  };
  await Promise.all(Array.from({ length: consumers }, worker));
  const s = secs(t0);
  const received = applied + duplicates;
  console.log(JSON.stringify({ batches: batches.length, batchSize, consumers, received, applied, duplicates, seconds: Number(s.toFixed(2)), eventsPerSecond: Math.round(received / s) }));
}
