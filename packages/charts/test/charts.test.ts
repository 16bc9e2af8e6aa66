/**
 * The chart module on known input: the Vega-Lite specification carries exactly the finite data,
 * a series keeps its colour and dash across panels, and Vega renders it headlessly into an SVG
 * that parses and names its panels, legends and points.
 */
import { barData, figureSpec, lineData, renderFigure, type Figure } from '@netflicks/charts';
import { readVegaSvg } from '../../../test/support/vega-svg.js';

const t0 = Date.UTC(2026, 2, 1, 10);
const FIGURE: Figure = {
  title: 'Test <figure>',
  subtitle: 'a & b',
  panels: [
    { kind: 'line', title: 'A & B', xLabel: 'K', yLabel: 'y', integerX: true, yFromZero: true, series: [{ name: 'als <1>', points: [[1, 0.1], [2, 0.3], [3, Number.NaN]] }, { name: 'none', points: [[1, Number.NaN]] }] },
    { kind: 'bar', title: 'bars', yLabel: 'v', categories: ['RMSE', 'MAE'], series: [{ name: 'v1', values: [0.9, 0.7] }, { name: 'als <1>', values: [0.8, Number.NaN] }] },
    { kind: 'line', title: 'over time', xLabel: 'hour', yLabel: 'rate', timeX: true, series: [{ name: 'v1', points: [[t0, 0.25], [t0 + 3_600_000, 0.4]] }] },
  ],
};

type Panel = { title: string; data: { values: unknown[] }; encoding: { color: { scale: { domain: string[]; range: string[] } }; strokeDash?: { scale: { range: number[][] } } } };

test('the specification: finite data only, one colour and dash per series across panels', () => {
  const spec = figureSpec(FIGURE) as unknown as { title: { text: string; subtitle: string }; columns: number; concat: Panel[] };
  expect(spec.title).toMatchObject({ text: 'Test <figure>', subtitle: 'a & b' });
  expect(spec.columns).toBe(2);
  const [line, bar, time] = spec.concat;
  expect(line.data.values).toEqual([{ series: 'als <1>', x: 1, y: 0.1 }, { series: 'als <1>', x: 2, y: 0.3 }]);
  expect(lineData(FIGURE.panels[0] as never)).toEqual(line.data.values);
  expect(bar.data.values).toEqual([{ series: 'v1', category: 'RMSE', value: 0.9 }, { series: 'v1', category: 'MAE', value: 0.7 }, { series: 'als <1>', category: 'RMSE', value: 0.8 }]);
  expect(barData(FIGURE.panels[1] as never)).toEqual(bar.data.values);
  expect(line.encoding.color.scale.domain).toEqual(['als <1>']); // a series without a finite point gets no legend entry
  const colour = (p: Panel, name: string): string => p.encoding.color.scale.range[p.encoding.color.scale.domain.indexOf(name)];
  expect(colour(bar, 'als <1>')).toBe(colour(line, 'als <1>'));
  expect(colour(time, 'v1')).toBe(colour(bar, 'v1'));
  expect(colour(bar, 'v1')).not.toBe(colour(bar, 'als <1>'));
  expect(time.data.values).toEqual([{ series: 'v1', x: t0, y: 0.25 }, { series: 'v1', x: t0 + 3_600_000, y: 0.4 }]);
});

test('rendered headlessly: a valid SVG naming its panels, legends and points (UTC time axis)', async () => {
  const svg = await renderFigure(FIGURE);
  const drawn = readVegaSvg(svg);
  expect(drawn.width).toBeGreaterThan(800);
  expect(svg).toContain('<title>Test &lt;figure&gt;: a &amp; b</title>');
  expect(drawn.titles).toEqual(expect.arrayContaining(['A & B', 'bars', 'over time', 'Test <figure>', 'a & b']));
  expect(drawn.legends).toEqual([['als <1>'], ['v1', 'als <1>'], ['v1']]);
  expect(drawn.points).toEqual([
    { K: '1', y: '0.1', series: 'als <1>' },
    { K: '2', y: '0.3', series: 'als <1>' },
    { category: 'RMSE', v: '0.9', series: 'v1' },
    { category: 'MAE', v: '0.7', series: 'v1' },
    { category: 'RMSE', v: '0.8', series: 'als <1>' },
    { hour: '03-01 10:00', rate: '0.25', series: 'v1' },
    { hour: '03-01 11:00', rate: '0.4', series: 'v1' },
  ]);
});
