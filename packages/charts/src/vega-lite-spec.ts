/**
 * A figure as one Vega-Lite specification: the panels concatenated in rows, each with its data
 * inline (`{series, x, y}` rows for lines, `{series, category, value}` for bars) and its own
 * legend, while a series keeps one colour and dash pattern across every panel of the figure.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { BarPanel, Figure, LinePanel, Panel } from './figure.js';

export type VegaLiteSpec = TopLevelSpec;
type PanelSpec = Extract<TopLevelSpec, { concat: unknown }>['concat'][number];
type SeriesEncoding = Extract<PanelSpec, { mark: unknown }>['encoding'];

/** A line's data row. */
export interface LineDatum {
  series: string;
  x: number;
  y: number;
}

/** A bar's data row. */
export interface BarDatum {
  series: string;
  category: string;
  value: number;
}

/** Okabe–Ito: told apart by colour-blind readers too. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999999'];
/** A dash pattern per line, so identical curves stay visible (one on top of the other) and print in grey. */
const DASHES: number[][] = [[1, 0], [8, 4], [2, 3], [12, 3, 3, 3], [3, 6], [14, 4]];
const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';
const PANEL_WIDTH = 400;
const PANEL_HEIGHT = 220;
/** Markers on a line with at most this many points (a 50-point curve reads better without). */
const MAX_MARKERS = 20;

export function lineData(panel: LinePanel): LineDatum[] {
  return panel.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => ({ series: s.name, x, y })));
}

export function barData(panel: BarPanel): BarDatum[] {
  return panel.series.flatMap((s) =>
    s.values.flatMap((value, i) => (Number.isFinite(value) && i < panel.categories.length ? [{ series: s.name, category: panel.categories[i], value }] : [])),
  );
}

type Style = (name: string) => { colour: string; dash: number[] };

/** The series a panel draws (those with at least one finite value), in the panel's order. */
function drawn(data: ReadonlyArray<{ series: string }>): string[] {
  return [...new Set(data.map((d) => d.series))];
}

function seriesEncoding(names: string[], style: Style, withDash: boolean): SeriesEncoding {
  const legend = { title: null, orient: 'top' as const, direction: 'horizontal' as const, columns: 4, symbolType: withDash ? 'stroke' : 'square', symbolStrokeWidth: 3, symbolSize: 240, labelLimit: 260 };
  return {
    color: { field: 'series', type: 'nominal' as const, sort: names, scale: { domain: names, range: names.map((n) => style(n).colour) }, legend },
    ...(withDash ? { strokeDash: { field: 'series', type: 'nominal' as const, sort: names, scale: { domain: names, range: names.map((n) => style(n).dash) }, legend } } : {}),
  };
}

function linePanelSpec(panel: LinePanel, style: Style): PanelSpec {
  const values = lineData(panel);
  const names = drawn(values);
  const longest = Math.max(0, ...names.map((n) => values.filter((d) => d.series === n).length));
  return {
    title: panel.title,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values },
    mark: { type: 'line', strokeWidth: 2, point: longest <= MAX_MARKERS },
    encoding: {
      x: panel.timeX
        ? { field: 'x', type: 'temporal', title: panel.xLabel, scale: { type: 'utc' }, axis: { format: '%m-%d %H:%M', labelAngle: -30 } }
        : { field: 'x', type: 'quantitative', title: panel.xLabel, scale: { zero: false, nice: true }, axis: panel.integerX ? { tickMinStep: 1, format: 'd' } : {} },
      y: { field: 'y', type: 'quantitative', title: panel.yLabel, scale: { zero: panel.yFromZero === true } },
      ...seriesEncoding(names, style, true),
    },
  };
}

function barPanelSpec(panel: BarPanel, style: Style): PanelSpec {
  const values = barData(panel);
  const names = drawn(values);
  return {
    title: panel.title,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values },
    mark: { type: 'bar', cornerRadiusEnd: 2 },
    encoding: {
      x: { field: 'category', type: 'nominal', sort: panel.categories, title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'series', type: 'nominal', sort: names },
      y: { field: 'value', type: 'quantitative', title: panel.yLabel },
      ...seriesEncoding(names, style, false),
    },
  };
}

export function figureSpec(figure: Figure): VegaLiteSpec {
  const styles = new Map<string, { colour: string; dash: number[] }>();
  const style: Style = (name) => {
    let s = styles.get(name);
    if (s === undefined) {
      s = { colour: PALETTE[styles.size % PALETTE.length], dash: DASHES[styles.size % DASHES.length] };
      styles.set(name, s);
    }
    return s;
  };
  const panel = (p: Panel): PanelSpec => (p.kind === 'line' ? linePanelSpec(p, style) : barPanelSpec(p, style));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: figure.title, ...(figure.subtitle ? { subtitle: figure.subtitle } : {}), anchor: 'start', fontSize: 18, subtitleFontSize: 12, subtitleColor: '#565661', offset: 12 },
    description: figure.subtitle ? `${figure.title}: ${figure.subtitle}` : figure.title,
    background: '#ffffff',
    padding: 16,
    columns: Math.max(1, figure.columns ?? Math.min(2, figure.panels.length)),
    concat: figure.panels.map(panel),
    resolve: { scale: { color: 'independent', strokeDash: 'independent', x: 'independent', y: 'independent', xOffset: 'independent' }, legend: { color: 'independent', strokeDash: 'independent' } },
    spacing: 28,
    config: {
      font: FONT,
      title: { fontSize: 14, anchor: 'start', color: '#1b1b1f' },
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', titleColor: '#1b1b1f', labelColor: '#33333b', gridColor: '#e4e4ea' },
      legend: { labelFontSize: 12, labelColor: '#1b1b1f' },
      view: { stroke: '#c9c9d1' },
    },
  };
}
