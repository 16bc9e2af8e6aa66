import { startEmbeddedPostgres } from '../dist/index.js';
import pg from 'pg';
const t0 = performance.now();
const h = await startEmbeddedPostgres({ name: process.argv[2] ?? 'smoke', log: (l) => process.stderr.write(`[pg] ${l}\n`) });
console.log('started', h.url, h.reused, ((performance.now() - t0) / 1000).toFixed(2), 's');
const c = new pg.Client(h.url); await c.connect(); console.log((await c.query('select version()')).rows[0]); await c.end();
await h.stop();
console.log('stopped', ((performance.now() - t0) / 1000).toFixed(2));
