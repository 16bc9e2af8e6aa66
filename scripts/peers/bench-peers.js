// `npm run bench -- --only peers`: Netflicks against its Python peers on the same machine, in the
// same run, interleaved round by round (the machine may be shared: every ratio compares work done
// under the same load, and each round prints its load average).
//   explicit: Surprise SVD (and SVD++) vs explicit ALS on ML-100K's folds u1..u5, RMSE and seconds
//             per fold; the same ALS on a 6× larger catalogue of the same ratings;
//   implicit: `implicit` vs implicit ALS on one ML-20M-shaped matrix (same pairs, factors,
//             threads, CG steps): seconds per iteration, peak RSS, building the matrix
//             (bench-implicit.js). `part`: 'explicit' or 'implicit' runs only that half.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { implicitSection } from './bench-implicit.js';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const f2 = (x) => x.toFixed(2);
const f3 = (x) => x.toFixed(3);
const f4 = (x) => x.toFixed(4);
const load = () => loadavg()[0].toFixed(1);

function run(cmd, args, root) {
  const out = execFileSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Per-fold means of one tool's run over the folds. */
function foldSummary(r) {
  return { rmse: mean(r.folds.map((f) => f.rmse)), seconds: mean(r.folds.map((f) => f.seconds)), cpu: mean(r.folds.map((f) => f.cpuSeconds)) };
}

/**
 * Runs the rounds and returns the report's markdown lines. `quick`: a smaller implicit matrix and
 * no SVD++ (its five folds take minutes). `baseline`: another checkout (built) whose recsys also
 * runs in every round, for before/after ratios measured under the same load.
 */
export function peersSection({ root, runs, quick, baseline, part }) {
  const python = execFileSync(join(root, 'scripts/peers/install.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const ml100k = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'netflicks/datasets/ml-100k');
  if (!existsSync(join(ml100k, 'u5.test'))) execFileSync(join(root, 'scripts/fetch-bench-data.sh'), { stdio: 'inherit' });
  const peers = join(root, 'scripts/peers/peers.py');
  const folds = join(root, 'scripts/peers/netflicks-folds.js');
  const ials = join(root, 'scripts/bench-ials.js');
  const explicit = part !== 'implicit';
  const shape = quick ? ['--users', '13800', '--items', '2700', '--nnz', '1000000'] : [];
  const work = mkdtempSync(join(tmpdir(), 'netflicks-peers-'));
  const coo = join(work, 'pairs.bin');
  const threads = '2';
  const explicitRows = [];
  const beforeRows = [];
  const implicitLines = [];
  const ratios = { svd: [], fast: [], catalogue: [], scalingAls: [], svdBefore: [], catalogueBefore: [] };
  const before = baseline ? ['--recsys', join(baseline, 'packages/recsys')] : null;
  try {
    run(process.execPath, [ials, ...shape, '--write-coo', coo], root);
    for (let round = 1; explicit && round <= runs; round++) {
      // Explicit: alternate who goes first so neither always runs on a warmer (or busier) machine.
      const loadBefore = load();
      const svdFirst = round % 2 === 1;
      const svd = () => foldSummary(run(python, [peers, 'surprise', '--dir', ml100k, '--algo', 'svd'], root));
      const als = () => foldSummary(run(process.execPath, [folds, '--dir', ml100k, '--threads', threads], root));
      let s;
      let a;
      if (svdFirst) {
        s = svd();
        a = als();
      } else {
        a = als();
        s = svd();
      }
      const fast = foldSummary(run(process.execPath, [folds, '--dir', ml100k, '--threads', threads, '--preset', 'fast'], root));
      const one = foldSummary(run(process.execPath, [folds, '--dir', ml100k, '--threads', '1'], root));
      const wide = foldSummary(run(process.execPath, [folds, '--dir', ml100k, '--threads', threads, '--spread', '6', '--folds', '1'], root));
      const narrow = foldSummary(run(process.execPath, [folds, '--dir', ml100k, '--threads', threads, '--folds', '1'], root));
      const svdpp = quick || round > 1 ? null : foldSummary(run(python, [peers, 'surprise', '--dir', ml100k, '--algo', 'svdpp'], root));
      const old = before ? foldSummary(run(process.execPath, [folds, '--dir', ml100k, '--threads', threads, ...before], root)) : null;
      const oldWide = before ? foldSummary(run(process.execPath, [folds, '--dir', ml100k, '--threads', threads, '--spread', '6', '--folds', '1', ...before], root)) : null;
      const oldNarrow = before ? foldSummary(run(process.execPath, [folds, '--dir', ml100k, '--threads', threads, '--folds', '1', ...before], root)) : null;
      const after = load();
      if (old) {
        ratios.svdBefore.push(old.seconds / s.seconds);
        ratios.catalogueBefore.push(oldWide.seconds / oldNarrow.seconds);
        beforeRows.push(
          `| ${round} | ${f4(old.rmse)}, ${f3(old.seconds)} s (CPU ${f3(old.cpu)}) | ${f2(old.seconds / s.seconds)}× | ${f4(a.rmse)}, ${f3(a.seconds)} s (CPU ${f3(a.cpu)}) | ${f2(a.seconds / s.seconds)}× | ${f2(oldWide.seconds / oldNarrow.seconds)}× → ${f2(wide.seconds / narrow.seconds)}× |`,
        );
      }
      ratios.svd.push(a.seconds / s.seconds);
      ratios.fast.push(fast.seconds / s.seconds);
      ratios.catalogue.push(wide.seconds / narrow.seconds);
      ratios.scalingAls.push(one.seconds / a.seconds);
      explicitRows.push(
        `| ${round} | ${loadBefore} / ${after} | ${f4(s.rmse)}, ${f3(s.seconds)} s (CPU ${f3(s.cpu)}) | ${svdpp ? `${f4(svdpp.rmse)}, ${f2(svdpp.seconds)} s` : '-'} | ${f4(a.rmse)}, ${f3(a.seconds)} s (CPU ${f3(a.cpu)}) | **${f2(a.seconds / s.seconds)}×** | ${f4(fast.rmse)}, ${f3(fast.seconds)} s (**${f2(fast.seconds / s.seconds)}×**) | ${f3(one.seconds)} s (${f2(one.seconds / a.seconds)}×) | ${f3(narrow.seconds)} → ${f3(wide.seconds)} s (**${f2(wide.seconds / narrow.seconds)}×**) |`,
      );

      // Progress on stderr: a long run that is cut short still leaves its finished rounds.
      process.stderr.write(`peers round ${round}:\n${[explicitRows.at(-1), ...beforeRows.slice(-1)].join('\n')}\n`);
    }
    if (part !== 'explicit') {
      implicitLines.push(
        ...implicitSection({ root, run: (cmd, args) => run(cmd, args, root), python, coo, runs, quick, threads, before: baseline ? before : null }),
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const m = (xs) => (xs.length ? f2(median(xs)) : '-');
  const explicitLines = [
    '',
    'Explicit: ML-100K u1..u5, mean over the folds, seconds = wall time of training (data loaded), CPU = process CPU seconds (all threads).',
    '',
    '| round | load | Surprise SVD: RMSE, s/fold | SVD++ | Netflicks ALS defaults (2 threads) | ALS ÷ SVD time | fast preset (÷ SVD) | 1 thread (2-thread speed-up) | u1, catalogue ×6 |',
    '|---|---|---|---|---|---|---|---|---|',
    ...explicitRows,
    '',
    ...(baseline
      ? [
          '',
          `Before / after (the baseline checkout's recsys in the same rounds; ratios against the same round's peer run):`,
          '',
          '| round | before | ÷ peer | after | ÷ peer | catalogue ×6, before → after |',
          '|---|---|---|---|---|---|',
          ...beforeRows,
          '',
          `Median before → after: ALS ÷ SVD ${m(ratios.svdBefore)} → ${m(ratios.svd)}; catalogue ×6 ${m(ratios.catalogueBefore)} → ${m(ratios.catalogue)}.`,
        ]
      : []),
    '',
    `Median ratios: ALS ÷ SVD time ${m(ratios.svd)}, fast preset ÷ SVD ${m(ratios.fast)}, catalogue ×6 ${m(ratios.catalogue)}, ALS 2 threads ÷ 1 ${m(ratios.scalingAls)}.`,
  ];
  return [
    '',
    `### Training against the Python peers (${runs} interleaved rounds; load average = 1-minute, before / after each block)`,
    '',
    'Implicit: seconds and CPU seconds per iteration (medians). On a busy machine wall times measure the scheduler as much as the code: read the CPU ratios beside them.',
    ...(explicit ? explicitLines : []),
    ...implicitLines,
  ];
}
