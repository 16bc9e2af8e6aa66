// The implicit half of `npm run bench -- --only peers` (alone: `--peers implicit`): `implicit`'s
// CPU ALS against Netflicks' implicit ALS on one ML-20M-shaped matrix (same pairs, factors,
// threads, CG steps), interleaved round by round: seconds and CPU seconds per iteration, peak RSS,
// building the matrix, and Netflicks on one thread (the two-thread speed-up).
import { loadavg } from 'node:os';
import { join } from 'node:path';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f2 = (x) => x.toFixed(2);
const load = () => loadavg()[0].toFixed(1);

/**
 * `run(cmd, args)` runs a tool and returns its JSON line; `coo` holds the pairs (written by
 * scripts/bench-ials.js --write-coo); `before`: extra arguments that run a baseline checkout's
 * recsys in every round. Returns the report's markdown lines.
 */
export function implicitSection({ root, run, python, coo, runs, quick, threads, before }) {
  const ials = join(root, 'scripts/bench-ials.js');
  const peers = join(root, 'scripts/peers/peers.py');
  const shape = quick ? ['--users', '13800', '--items', '2700', '--nnz', '1000000'] : [];
  const iterations = '3';
  const common = ['--factors', '64', '--iterations', iterations, '--cg-steps', '3'];
  const rows = [];
  const beforeRows = [];
  const ratios = { time: [], cpu: [], rss: [], build: [], scaling: [], timeBefore: [], rssBefore: [], buildBefore: [] };
  let matrix = '';
  for (let round = 1; round <= runs; round++) {
    const loadBefore = load();
    const peer = () => run(python, [peers, 'implicit', '--coo', coo, '--threads', threads, ...common]);
    // The peer's pairs carry no times: ours reads the same 12 bytes a pair (--times none).
    const ours = (t, extra = []) => run(process.execPath, [ials, ...shape, '--threads', t, '--times', 'none', ...common, ...extra]);
    // Alternate who goes first so neither always runs on a warmer (or busier) machine.
    let p;
    let n;
    if (round % 2 === 1) {
      p = peer();
      n = ours(threads);
    } else {
      n = ours(threads);
      p = peer();
    }
    const n1 = quick ? null : ours('1');
    const old = before ? ours(threads, before) : null;
    const loadAfter = load();
    ratios.time.push(n.secondsPerIteration / p.secondsPerIteration);
    ratios.cpu.push(n.cpuSecondsPerIteration / p.cpuSecondsPerIteration);
    ratios.rss.push(n.peakRssMB / p.peakRssMB);
    ratios.build.push(n.buildSeconds / p.buildSeconds);
    if (n1) ratios.scaling.push(n1.secondsPerIteration / n.secondsPerIteration);
    const ours2 = (x) => `${f2(x.secondsPerIteration)} s (CPU ${f2(x.cpuSecondsPerIteration)}), ${x.peakRssMB} MB, build ${f2(x.buildSeconds)} s`;
    rows.push(
      `| ${round} | ${loadBefore} / ${loadAfter} | ${f2(p.secondsPerIteration)} s (CPU ${f2(p.cpuSecondsPerIteration)}), ${Math.round(p.peakRssMB)} MB, build ${f2(p.buildSeconds)} s | ${ours2(n)} | **${f2(n.secondsPerIteration / p.secondsPerIteration)}×** (CPU ${f2(n.cpuSecondsPerIteration / p.cpuSecondsPerIteration)}×) | ${f2(n.peakRssMB / p.peakRssMB)}× | ${f2(n.buildSeconds / p.buildSeconds)}× | ${n1 ? `${f2(n1.secondsPerIteration)} s (CPU ${f2(n1.cpuSecondsPerIteration)}; **${f2(n1.secondsPerIteration / n.secondsPerIteration)}×**)` : '-'} |`,
    );
    if (old) {
      ratios.timeBefore.push(old.secondsPerIteration / p.secondsPerIteration);
      ratios.rssBefore.push(old.peakRssMB / p.peakRssMB);
      ratios.buildBefore.push(old.buildSeconds / p.buildSeconds);
      beforeRows.push(
        `| ${round} | ${ours2(old)} | ${f2(old.secondsPerIteration / p.secondsPerIteration)}× (CPU ${f2(old.cpuSecondsPerIteration / p.cpuSecondsPerIteration)}×) | ${ours2(n)} | ${f2(n.secondsPerIteration / p.secondsPerIteration)}× (CPU ${f2(n.cpuSecondsPerIteration / p.cpuSecondsPerIteration)}×) | RSS ${f2(old.peakRssMB / p.peakRssMB)}× → ${f2(n.peakRssMB / p.peakRssMB)}×, build ${f2(old.buildSeconds / p.buildSeconds)}× → ${f2(n.buildSeconds / p.buildSeconds)}× |`,
      );
    }
    if (round === 1) matrix = `Matrix: ${p.users} × ${p.items}, ${p.nnz} nonzeros; 64 factors, ${threads} threads, 3 CG steps, ${iterations} iterations (median).`;
    // Progress on stderr: a long run that is cut short still leaves its finished rounds.
    process.stderr.write(`peers implicit round ${round}:\n${[rows.at(-1), ...beforeRows.slice(-1)].join('\n')}\n`);
  }
  const m = (xs) => (xs.length ? f2(median(xs)) : '-');
  return [
    '',
    'Implicit:',
    '',
    matrix,
    '',
    '| round | load | `implicit` 0.7.3: s/iteration, peak RSS, scipy build | Netflicks iALS | time ratio | RSS ratio | build ratio | Netflicks 1 thread (2 threads ÷ 1 speed-up) |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    ...(before
      ? [
          '',
          `Implicit before / after (the baseline checkout's recsys in the same rounds; ratios against the same round's peer run):`,
          '',
          '| round | before | ÷ peer | after | ÷ peer | RSS and build ÷ peer, before → after |',
          '|---|---|---|---|---|---|',
          ...beforeRows,
          '',
          `Median before → after: iALS ÷ implicit ${m(ratios.timeBefore)} → ${m(ratios.time)}; RSS ${m(ratios.rssBefore)} → ${m(ratios.rss)}; build ${m(ratios.buildBefore)} → ${m(ratios.build)}.`,
        ]
      : []),
    '',
    `Implicit median ratios (targets: time ≤ 1.00, RSS ≤ 1.00, build ≤ 2.00, 2 threads ÷ 1 ≥ 1.70): iALS ÷ implicit time ${m(ratios.time)} (CPU ${m(ratios.cpu)}), peak RSS ${m(ratios.rss)}, build ÷ scipy ${m(ratios.build)}, iALS 2 threads ÷ 1 ${m(ratios.scaling)}.`,
  ];
}
