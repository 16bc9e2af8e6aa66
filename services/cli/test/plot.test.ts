/**
 * Plots from the CLI: the chart module's axes and series on known input, then the compiled CLI as
 * a user runs it — `evaluate --plot` on a synthetic dataset (the curves must agree with the
 * evaluation's own table) and `models compare --plot` against a real PostgreSQL registry. The SVG
 * is parsed by resvg (a strict XML/SVG parser) and read back through its data attributes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import { describePostgres } from '../../../test/support/postgres.js';
import { niceAxis, renderFigure, timeAxis, timeLabel } from '@netflicks/charts';
import { evaluationFigure } from '../src/plot/evaluation-curves.js';

const BIN = fileURLToPath(new URL('../bin/netflicks.js', import.meta.url));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 1 << 26, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

interface DrawnPanel {
  title: string;
  attrs: Record<string, string>;
  /** series name → [x, y] values (bars: [category index, value]). */
  series: Map<string, number[][]>;
  legend: string[];
}

const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

function attributes(openTag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of openTag.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1]] = unescape(m[2]);
  return out;
}

/** Parses the document with resvg (throws on malformed SVG), then reads each panel's data attributes. */
function readSvg(svg: string): { width: number; height: number; panels: DrawnPanel[] } {
  const parsed = new Resvg(svg);
  const chunks = svg.split(/(?=<g class="panel")/).slice(1);
  const panels = chunks.map((chunk) => {
    const attrs = attributes(/^<g [^>]*>/.exec(chunk)?.[0] ?? '');
    const series = new Map<string, number[][]>();
    for (const m of chunk.matchAll(/<g class="series"[^>]*>/g)) {
      const a = attributes(m[0]);
      series.set(a['data-series'], a['data-values'].split(' ').map((pair, i) => (pair.includes(',') ? pair.split(',').map(Number) : [i, Number(pair)])));
    }
    const legend = [...chunk.matchAll(/<g class="legend-item" data-series="([^"]*)"/g)].map((m) => unescape(m[1]));
    return { title: attrs['data-title'], attrs, series, legend };
  });
  return { width: parsed.width, height: parsed.height, panels };
}

describe('chart module', () => {
  test('axes: round ticks covering the data, in 1/2/5 steps', () => {
    expect(niceAxis(0, 0.43)).toEqual({ min: 0, max: 0.5, ticks: [0, 0.1, 0.2, 0.3, 0.4, 0.5], decimals: 1 });
    expect(niceAxis(0, 0.043, 4)).toEqual({ min: 0, max: 0.05, ticks: [0, 0.01, 0.02, 0.03, 0.04, 0.05], decimals: 2 });
    expect(niceAxis(1, 50)).toMatchObject({ min: 0, max: 50, ticks: [0, 10, 20, 30, 40, 50], decimals: 0 });
    expect(niceAxis(0.61, 0.66)).toMatchObject({ min: 0.61, max: 0.66, ticks: [0.61, 0.62, 0.63, 0.64, 0.65, 0.66], decimals: 2 });
    expect(niceAxis(2, 2)).toMatchObject({ min: 1.8, max: 2.2, ticks: [1.8, 1.9, 2, 2.1, 2.2] });
    expect(() => niceAxis(0, Number.NaN)).toThrow('axis range must be finite');
  });

  test('time axes: ticks on whole UTC hours, or days for longer spans', () => {
    const t0 = Date.UTC(2026, 11, 3, 9, 30);
    const hours = timeAxis(t0, t0 + 5 * 3_600_000);
    expect(hours.ticks.map((t) => timeLabel(t, hours))).toEqual(['12-03 10:00', '12-03 11:00', '12-03 12:00', '12-03 13:00', '12-03 14:00']);
    const days = timeAxis(t0, t0 + 4 * 86_400_000);
    expect(days.ticks.map((t) => timeLabel(t, days))).toEqual(['12-04', '12-05', '12-06', '12-07']);
  });

  test('a line and a bar panel: values, ranges, legends and escaped names as drawn', () => {
    const svg = renderFigure({
      title: 'Test <figure>',
      panels: [
        { kind: 'line', title: 'A & B', xLabel: 'K', yLabel: 'y', integerX: true, yFromZero: true, series: [{ name: 'als <1>', points: [[1, 0.1], [2, 0.3], [3, Number.NaN]] }, { name: 'none', points: [[1, Number.NaN]] }] },
        { kind: 'bar', title: 'bars', yLabel: 'v', categories: ['RMSE', 'MAE'], series: [{ name: 'v1', values: [0.9, 0.7] }, { name: 'v2', values: [0.8, Number.NaN] }] },
      ],
    });
    const { width, height, panels } = readSvg(svg);
    expect([width, height]).toEqual([992, 394]);
    expect(svg).toContain('<title id="figure-title">Test &lt;figure&gt;</title>');
    const [line, bar] = panels;
    expect(line.title).toBe('A & B');
    expect(line.legend).toEqual(['als <1>']); // a series without a finite point is not drawn
    expect([...line.series]).toEqual([['als <1>', [[1, 0.1], [2, 0.3]]]]);
    expect(line.attrs).toMatchObject({ 'data-x-min': '1', 'data-x-max': '2', 'data-y-min': '0', 'data-y-max': '0.3' });
    expect(bar.series.get('v1')).toEqual([[0, 0.9], [1, 0.7]]);
    expect(bar.series.get('v2')?.[1][1]).toBeNaN();
    expect(bar.attrs).toMatchObject({ 'data-y-min': '0', 'data-y-max': '1' });
    expect((svg.match(/<g class="bar"/g) ?? []).length).toBe(3);
  });
});

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

  test('SVG: K = 1…50 curves per algorithm that agree with the table, RMSE per fold, the ALS loss per iteration', async () => {
    const file = join(dir, 'eval.svg');
    const run = await cli(['evaluate', ...DATA, '--algorithms', 'als,popularity,content', '--json', '--plot', file]);
    expect(run.stderr).not.toMatch(/\bat .*\.js:\d+/);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { results: { algorithm: string; metrics: Record<string, number> }[] };
    const metricsOf = (a: string): Record<string, number> => report.results.find((r) => r.algorithm === a)?.metrics ?? {};
    const { panels } = readSvg(await readFile(file, 'utf8'));
    expect(panels.map((p) => p.title)).toEqual(['Precision@K', 'Recall@K', 'NDCG@K', 'Hit rate@K', 'RMSE per fold', 'Training loss per iteration']);

    const [precision, recall, ndcg, hitrate] = panels;
    for (const [panel, metric] of [[precision, 'precision'], [recall, 'recall'], [ndcg, 'ndcg'], [hitrate, 'hitrate']] as const) {
      expect(panel.legend).toEqual(['als', 'popularity', 'content']);
      expect(panel.attrs).toMatchObject({ 'data-x-min': '0', 'data-x-max': '50', 'data-y-min': '0' });
      for (const algorithm of ['als', 'popularity', 'content']) {
        const points = panel.series.get(algorithm) ?? [];
        expect(points.map(([k]) => k)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        // The curve at K = 10 is the table's metric@10 (both means over the two folds).
        expect(points[9][1]).toBeCloseTo(metricsOf(algorithm)[`${metric}@10`], 5);
        for (const [, y] of points) expect(y).toBeLessThanOrEqual(Number(panel.attrs['data-y-max']));
      }
    }
    // Recall and hit rate can only grow with K.
    for (const points of [...recall.series.values(), ...hitrate.series.values()]) {
      for (let i = 1; i < points.length; i++) expect(points[i][1]).toBeGreaterThanOrEqual(points[i - 1][1] - 1e-12);
    }

    const rmse = panels[4];
    expect(rmse.legend).toEqual(['als', 'popularity']); // content predicts no ratings
    for (const algorithm of ['als', 'popularity']) {
      const folds = rmse.series.get(algorithm) ?? [];
      expect(folds.map(([f]) => f)).toEqual([1, 2]);
      expect((folds[0][1] + folds[1][1]) / 2).toBeCloseTo(metricsOf(algorithm).rmse, 4);
    }

    const loss = panels[5];
    expect(loss.legend).toEqual(['als fold 1', 'als fold 2']);
    for (const points of loss.series.values()) {
      expect(points.map(([i]) => i)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(points[5][1]).toBeLessThan(points[0][1]); // training RMSE falls
    }
  }, 180_000);

  test('PNG: a valid image twice the SVG size', async () => {
    const file = join(dir, 'eval.png');
    const run = await cli(['evaluate', ...DATA, '--algorithms', 'als,popularity', '--plot', file]);
    expect(run.code).toBe(0);
    const png = await readFile(file);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([2 * 992, 2 * 1034]);
  }, 180_000);

  test('a plot file that is neither .svg nor .png is refused before any work', async () => {
    const run = await cli(['evaluate', ...DATA, '--plot', join(dir, 'eval.pdf')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/--plot .*eval\.pdf: must end in \.svg or \.png/);
  });
});

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
      const file = join(dir, 'compare.svg');
      const run = await cli(['models', 'compare', 'films', '1', 'latest', '--json', '--plot', file], env);
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
      const { panels } = readSvg(await readFile(file, 'utf8'));
      expect(panels.map((p) => p.title)).toEqual(['Rating error (lower is better)', 'Ranking and coverage (higher is better)']);
      expect(panels[0].series.get('v1')).toEqual([[0, 0.9], [1, 0.7]]);
      expect(panels[0].series.get('v2')).toEqual([[0, 0.81], [1, 0.72]]);
      expect(panels[1].series.get('v2')).toEqual([[0, 0.06], [1, 0.2], [2, 0.3]]);
      expect(await readFile(file, 'utf8')).toContain('>P@10</text>');

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
