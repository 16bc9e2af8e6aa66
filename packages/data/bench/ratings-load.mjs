// Load-speed benchmark: writes an ml-20m-sized ratings.csv (from the synthetic generator) once,
// then times loadDataset on it. Usage (after `npx tsc -b`):
//   node packages/data/bench/ratings-load.mjs [rows=20000263] [dir=$TMPDIR/netflicks-bench-csv]
import { existsSync, mkdirSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateSynthetic, loadDataset, SYNTHETIC_PRESETS } from '../dist/index.js';

const rows = Number(process.argv[2] ?? 20_000_263);
const dir = process.argv[3] ?? join(tmpdir(), `netflicks-bench-csv-${rows}`);
const ratingsPath = join(dir, 'ratings.csv');

if (!existsSync(ratingsPath)) {
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const scale = rows / SYNTHETIC_PRESETS['ml-20m'].ratings;
  const { dataset } = generateSynthetic({
    ...SYNTHETIC_PRESETS['ml-20m'],
    users: Math.max(1, Math.round(SYNTHETIC_PRESETS['ml-20m'].users * scale)),
    ratings: rows,
  });
  const t = dataset.ratings;
  const fd = openSync(ratingsPath, 'w');
  writeSync(fd, 'userId,movieId,rating,timestamp\n');
  let buf = '';
  for (let i = 0; i < t.length; i++) {
    const r = t.rating[i];
    buf += `${t.user[i]},${t.item[i]},${Number.isInteger(r) ? `${r}.0` : r},${t.timestamp[i]}\n`;
    if (buf.length > 1 << 22) {
      writeSync(fd, buf);
      buf = '';
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
  const movies = ['movieId,title,genres', ...dataset.movies.map((m) => `${m.id},"${m.title} (${m.year})",${m.genres.join('|')}`)];
  const mfd = openSync(join(dir, 'movies.csv'), 'w');
  writeSync(mfd, movies.join('\n') + '\n');
  closeSync(mfd);
  console.log(`wrote ${t.length} rows to ${ratingsPath} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const size = statSync(ratingsPath).size;
globalThis.gc?.();
const t0 = performance.now();
const { dataset, report } = await loadDataset({ format: 'ml-csv', path: dir });
const seconds = (performance.now() - t0) / 1000;
const mem = process.memoryUsage();
console.log(
  `loaded ${dataset.ratings.length} ratings + ${dataset.movies.length} movies from ${(size / 1e6).toFixed(0)} MB in ${seconds.toFixed(2)} s ` +
    `(${(size / 1e6 / seconds).toFixed(0)} MB/s, ${((dataset.ratings.length / seconds) / 1e6).toFixed(2)} M rows/s); ` +
    `rss ${(mem.rss / 1e6).toFixed(0)} MB, skipped ${report.skipped}`,
);
// Last line: machine-readable, for scripts/bench.js.
console.log(JSON.stringify({ rows: dataset.ratings.length, bytes: size, seconds, peakRssMB: Math.round(mem.rss / 1e6) }));
