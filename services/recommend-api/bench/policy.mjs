#!/usr/bin/env node
/**
 * The ranking's CPU per uncached request, in process: `HybridServingPolicy.recommend({ userId,
 * k })` for the users of the API bench's walk (ids n·7919 mod users + 1), CPU time per call
 * (process.cpuUsage), medians of interleaved rounds. With `--base DIR` (another checkout's root,
 * its packages/recsys built), the two builds alternate round by round and their lists are
 * compared first (k = 1, 10, 100; seen items excluded and not; fresh ratings for one user in 5).
 * Requires `npx tsc -b`.
 *
 *   node services/recommend-api/bench/policy.mjs [--base DIR] [--rounds 9] [--calls 20000] [--k 10] FILE...
 */
import { basename, join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const { values, positionals } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '9' },
    calls: { type: 'string', default: '20000' },
    k: { type: 'string', default: '10' },
    check: { type: 'string', default: '3000' },
  },
  allowPositionals: true,
});
const MAX_K = 100;
const builds = [{ name: 'this', root }];
if (values.base) builds.unshift({ name: 'base', root: resolve(values.base) });
for (const b of builds) b.recsys = await import(join(b.root, 'packages/recsys/dist/index.js'));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const load = () => loadavg()[0].toFixed(1);

/** The walk's user ids (the API bench's order). */
const walkIds = (users, count) => Array.from({ length: count }, (_, n) => (((n + 1) * 7919) % users) + 1);

function sameLists(a, b) {
  if (a.strategy !== b.strategy || a.items.length !== b.items.length) return false;
  return a.items.every((x, j) => x.movieId === b.items[j].movieId && Object.is(x.score, b.items[j].score));
}

console.log(`| model | ${builds.map((b) => `${b.name} µs/call`).join(' | ')} | ${builds.length > 1 ? 'ratio (base ÷ this) | ' : ''}load |`);
console.log(`|---|${builds.map(() => '---|').join('')}${builds.length > 1 ? '---|' : ''}---|`);
for (const file of positionals) {
  const policies = [];
  for (const b of builds) {
    const bundle = b.recsys.openBundle(await b.recsys.readModelFile(file));
    policies.push(new b.recsys.HybridServingPolicy(bundle, { maxK: MAX_K }));
  }
  const users = policies[0].bundle.users.size;
  const ids = walkIds(users, Number(values.calls));
  if (policies.length > 1) {
    let lists = 0;
    let diffs = 0;
    const movies = policies[0].bundle.items;
    for (const userId of ids.slice(0, Number(values.check))) {
      for (const k of [1, 10, 100]) {
        const fresh = userId % 5 === 0 ? [{ movieId: movies.id(userId % movies.size), rating: 5 }, { movieId: movies.id((userId * 31) % movies.size), rating: 1 }] : undefined;
        const request = { userId, k, excludeSeen: userId % 5 !== 1, extraRatings: fresh };
        const [a, b] = policies.map((p) => p.recommend(request));
        lists++;
        if (!sameLists(a, b)) diffs++;
      }
    }
    console.error(`${basename(file)}: ${diffs} differences over ${lists} lists`);
  }
  const k = Number(values.k);
  const times = policies.map(() => []);
  const loads = [];
  for (const p of policies) for (const userId of ids) p.recommend({ userId, k }); // warm-up (JIT)
  for (let r = 0; r < Number(values.rounds); r++) {
    const order = r % 2 === 0 ? policies.map((_, j) => j) : policies.map((_, j) => policies.length - 1 - j);
    for (const j of order) {
      const p = policies[j];
      const t0 = cpuUs();
      for (const userId of ids) p.recommend({ userId, k });
      times[j].push((cpuUs() - t0) / ids.length);
    }
    loads.push(load());
  }
  const med = times.map(median);
  const ratio = med.length > 1 ? ` **${(med[0] / med[1]).toFixed(2)}×** |` : '';
  console.log(`| ${basename(file)} | ${med.map((m, j) => `${m.toFixed(2)} (${Math.min(...times[j]).toFixed(2)}–${Math.max(...times[j]).toFixed(2)})`).join(' | ')} |${ratio} ${Math.min(...loads)}–${Math.max(...loads)} |`);
}
