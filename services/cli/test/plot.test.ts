/**
 * Plots from the CLI as a user runs them: `evaluate --plot` on a synthetic dataset (the Vega-Lite
 * spec's curves must agree with the evaluation's own table; the SVG and PNG Vega and resvg render
 * must parse and name the series) and `models compare --plot` against a real PostgreSQL registry.
 * With NETFLICKS_UPDATE_DOCS_IMAGES=1 the README's evaluate chart is made here too, on the
 * quickstart's world.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BarDatum, LineDatum } from '@netflicks/charts';
import { describePostgres } from '../../../test/support/postgres.js';
import { readVegaSvg } from '../../../test/support/vega-svg.js';
import { evaluationFigure } from '../src/plot/evaluation-curves.js';

const BIN = fileURLToPath(new URL('../bin/netflicks.js', import.meta.url));
const DOCS_IMAGES = fileURLToPath(new URL('../../../docs/images/', import.meta.url));

function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 0): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 1 << 26, env: { ...process.env, ...env }, timeout }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

interface SpecPanel {
  title: string;
  values: (LineDatum | BarDatum)[];
}

/** The panels of a Vega-Lite spec written by `--plot FILE.json`. */
async function readSpec(file: string): Promise<SpecPanel[]> {
  const spec = JSON.parse(await readFile(file, 'utf8')) as { concat: { title: string; data: { values: (LineDatum | BarDatum)[] } }[] };
  return spec.concat.map((p) => ({ title: p.title, values: p.data.values }));
}

/** series → [x, y] of a line panel, in data order. */
function lines(panel: SpecPanel): Map<string, number[][]> {
  const out = new Map<string, number[][]>();
  for (const d of panel.values as LineDatum[]) out.set(d.series, [...(out.get(d.series) ?? []), [d.x, d.y]]);
  return out;
}

test('one fold: RMSE as a bar per algorithm that predicts ratings, not a one-point line', () => {
  const curves = { maxK: 2, ranking: { precision: {}, recall: {}, ndcg: {}, hitrate: {} }, rmseByFold: { als: [0.91], content: [Number.NaN], popularity: [0.98] }, trainingLoss: { als: [1.2, 0.9] } };
  const rmse = evaluationFigure(curves, 't', 's').panels[4];
  expect(rmse).toEqual({ kind: 'bar', title: 'RMSE (test)', yLabel: 'RMSE', categories: ['als', 'popularity'], series: [{ name: 'RMSE', values: [0.91, 0.98] }] });
});

describe('netflicks evaluate --plot', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netflicks-plot-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const DATA = ['--format', 'synthetic', '--users', '150', '--movies', '220', '--ratings', '9000', '--threads', '1', '--iterations', '6', '--split', 'kfold:2'];

  test('K = 1…50 curves per algorithm that agree with the table, RMSE per fold, the ALS loss per iteration; SVG and PNG name the series', async () => {
    const [json, svgFile, pngFile] = ['eval.json', 'eval.svg', 'eval.png'].map((f) => join(dir, f));
    const run = await cli(['evaluate', ...DATA, '--algorithms', 'als,popularity,content', '--json', '--plot', json, '--plot', svgFile, '--plot', pngFile]);
    expect(run.stderr).not.toMatch(/\bat .*\.js:\d+/);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { results: { algorithm: string; metrics: Record<string, number> }[] };
    const metricsOf = (a: string): Record<string, number> => report.results.find((r) => r.algorithm === a)?.metrics ?? {};
    const panels = await readSpec(json);
    expect(panels.map((p) => p.title)).toEqual(['Precision@K', 'Recall@K', 'NDCG@K', 'Hit rate@K', 'RMSE per fold', 'Training loss per iteration']);

    const [precision, recall, ndcg, hitrate] = panels.map(lines);
    for (const [panel, metric] of [[precision, 'precision'], [recall, 'recall'], [ndcg, 'ndcg'], [hitrate, 'hitrate']] as const) {
      expect([...panel.keys()]).toEqual(['als', 'popularity', 'content']);
      for (const algorithm of ['als', 'popularity', 'content']) {
        const points = panel.get(algorithm) ?? [];
        expect(points.map(([k]) => k)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        // The curve at K = 10 is the table's metric@10 (both means over the two folds).
        expect(points[9][1]).toBeCloseTo(metricsOf(algorithm)[`${metric}@10`], 5);
      }
    }
    // Recall and hit rate can only grow with K.
    for (const points of [...recall.values(), ...hitrate.values()]) {
      for (let i = 1; i < points.length; i++) expect(points[i][1]).toBeGreaterThanOrEqual(points[i - 1][1] - 1e-12);
    }

    const rmse = lines(panels[4]);
    expect([...rmse.keys()]).toEqual(['als', 'popularity']); // content predicts no ratings
    for (const algorithm of ['als', 'popularity']) {
      const folds = rmse.get(algorithm) ?? [];
      expect(folds.map(([f]) => f)).toEqual([1, 2]);
      expect((folds[0][1] + folds[1][1]) / 2).toBeCloseTo(metricsOf(algorithm).rmse, 4);
    }

    const loss = lines(panels[5]);
    expect([...loss.keys()]).toEqual(['als fold 1', 'als fold 2']);
    for (const points of loss.values()) {
      expect(points.map(([i]) => i)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(points[5][1]).toBeLessThan(points[0][1]); // training RMSE falls
    }

    // The SVG Vega rendered from that spec: valid, every panel titled, every legend naming its series.
    const svg = readVegaSvg(await readFile(svgFile, 'utf8'));
    expect(svg.titles).toEqual(expect.arrayContaining(panels.map((p) => p.title)));
    expect(svg.legends).toEqual([...Array(4).fill(['als', 'popularity', 'content']), ['als', 'popularity'], ['als fold 1', 'als fold 2']]);
    // Short lines carry point markers Vega labels with their values: the RMSE of each fold, the loss of each iteration.
    const rmsePoints = svg.points.filter((p) => 'RMSE (test)' in p);
    expect(rmsePoints.map((p) => [p.series, Number(p.fold), Number(p['RMSE (test)'])])).toEqual(
      [...rmse].flatMap(([name, folds]) => folds.map(([f, y]) => [name, f, expect.closeTo(y, 2)])),
    );

    // The PNG is that SVG rasterised at twice its size.
    const png = await readFile(pngFile);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([2 * svg.width, 2 * svg.height]);
  }, 180_000);

  test('a plot file that is neither .svg nor .png is refused before any work', async () => {
    const run = await cli(['evaluate', ...DATA, '--plot', join(dir, 'eval.pdf')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/--plot .*eval\.pdf: must end in \.svg, \.png or \.json/);
  });
});

/** `npm run docs:images`: the README's chart, from the quickstart's world and every model the hybrid is made of. */
const docsImage = process.env.NETFLICKS_UPDATE_DOCS_IMAGES === '1' ? test : test.skip;
docsImage('README image (NETFLICKS_UPDATE_DOCS_IMAGES=1 npm run docs:images): evaluate --plot on the quickstart world', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'netflicks-docs-plot-'));
  try {
    const svgFile = join(dir, 'evaluate.svg');
    const algorithms = ['als', 'ials', 'content', 'popularity', 'hybrid'];
    const run = await cli(['evaluate', '--format', 'synthetic', '--algorithms', algorithms.join(','), '--plot', svgFile], {}, 25 * 60_000);
    expect(run.code).toBe(0);
    const svg = readVegaSvg(await readFile(svgFile, 'utf8'));
    expect(svg.legends.slice(0, 4)).toEqual(Array(4).fill(algorithms));
    await copyFile(svgFile, join(DOCS_IMAGES, 'evaluate.svg'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 30 * 60_000);

await describePostgres('netflicks models compare', (db) => {
  test('two registry versions: metrics side by side with the change, and as bars', async () => {
    const { compressArtifact, registerModelVersion } = await import('@netflicks/db');
    const { createBundle, buildTrainingData, encodeModelFile, trainPopularity } = await import('@netflicks/recsys');
    const { generateSynthetic } = await import('@netflicks/data');
    const { dataset } = generateSynthetic({ users: 30, movies: 40, ratings: 600, seed: 3 });
    const data = buildTrainingData(dataset.ratings, dataset.movies);
    const artifact = await compressArtifact(encodeModelFile(createBundle(data, { popularity: trainPopularity(data) })));
    const register = (metrics: Record<string, number>, ratings: number) =>
      registerModelVersion(db.pool, {
        modelName: 'films',
        algorithms: ['popularity'],
        hyperparameters: {},
        holdout: 'temporal',
        data: { watermark: null, fingerprint: 'ab'.repeat(32), ratings, users: 30, movies: 40 },
        metrics,
        actor: 'test',
      }, artifact);
    await register({ rmse: 0.9, mae: 0.7, 'precision@10': 0.05, 'ndcg@10': 0.2, coverage: 0.3 }, 600);
    await register({ rmse: 0.81, mae: 0.72, 'precision@10': 0.06, 'ndcg@10': 0.2, coverage: 0.3 }, 900);
    const env = { DATABASE_URL: db.url };
    const dir = await mkdtemp(join(tmpdir(), 'netflicks-compare-'));
    try {
      const [file, json] = [join(dir, 'compare.svg'), join(dir, 'compare.json')];
      const run = await cli(['models', 'compare', 'films', '1', 'latest', '--json', '--plot', file, '--plot', json], env);
      expect(run.code).toBe(0);
      const c = JSON.parse(run.stdout) as { a: { version: number; ratings: number }; b: { version: number; ratings: number }; metrics: unknown[] };
      expect([c.a.version, c.a.ratings, c.b.version, c.b.ratings]).toEqual([1, 600, 2, 900]);
      expect(c.metrics).toEqual([
        { metric: 'rmse', a: 0.9, b: 0.81, relativeChange: expect.closeTo(-0.1, 10), better: 'b' },
        { metric: 'mae', a: 0.7, b: 0.72, relativeChange: expect.closeTo(0.02 / 0.7, 10), better: 'a' },
        { metric: 'precision@10', a: 0.05, b: 0.06, relativeChange: expect.closeTo(0.2, 10), better: 'b' },
        { metric: 'ndcg@10', a: 0.2, b: 0.2, relativeChange: 0, better: null },
        { metric: 'coverage', a: 0.3, b: 0.3, relativeChange: 0, better: null },
      ]);
      const panels = await readSpec(json);
      expect(panels.map((p) => p.title)).toEqual(['Rating error (lower is better)', 'Ranking and coverage (higher is better)']);
      expect(panels[0].values).toEqual([
        { series: 'v1', category: 'RMSE', value: 0.9 },
        { series: 'v1', category: 'MAE', value: 0.7 },
        { series: 'v2', category: 'RMSE', value: 0.81 },
        { series: 'v2', category: 'MAE', value: 0.72 },
      ]);
      expect(panels[1].values.filter((d) => d.series === 'v2')).toEqual([
        { series: 'v2', category: 'P@10', value: 0.06 },
        { series: 'v2', category: 'NDCG@10', value: 0.2 },
        { series: 'v2', category: 'coverage', value: 0.3 },
      ]);
      // Vega's SVG: both versions in each legend, and each bar labelled with its version, metric and value.
      const svg = readVegaSvg(await readFile(file, 'utf8'));
      expect(svg.legends).toEqual([['v1', 'v2'], ['v1', 'v2']]);
      expect(svg.points.filter((p) => p.error !== undefined)).toEqual([
        { category: 'RMSE', error: '0.9', series: 'v1' },
        { category: 'MAE', error: '0.7', series: 'v1' },
        { category: 'RMSE', error: '0.81', series: 'v2' },
        { category: 'MAE', error: '0.72', series: 'v2' },
      ]);

      const table = await cli(['models', 'compare', 'films', '1', '2'], env);
      expect(table.stdout).toMatch(/^rmse\s+0\.9000\s+0\.8100\s+-10\.0%\s+v2$/m);
      expect(table.stdout).toMatch(/^ndcg@10\s+0\.2000\s+0\.2000\s+\+0\.0%\s+-$/m);
      const missing = await cli(['models', 'compare', 'films', '1', '7'], env);
      expect(missing.stderr.trim()).toBe('netflicks: model "films" has no version 7');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
