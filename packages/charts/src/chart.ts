/**
 * Small multiples as one standalone SVG document: line panels (a curve per series) and grouped bar
 * panels, sharing one colour per series name across the figure. Every drawn series carries its
 * name and its values in data-space (`data-series`, `data-values`), and every panel its axis
 * ranges, so a reader — or a test — can check the picture against the numbers.
 */
import { linear, niceAxis, timeAxis, timeLabel, type Axis } from './scale.js';
import { escapeXml, px, tag, text } from './svg.js';

export interface LineSeries {
  name: string;
  /** [x, y] pairs; non-finite y values are left out (e.g. RMSE of a model that does not predict ratings). */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface LinePanel {
  kind: 'line';
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** x values are counts (K, fold, iteration): integer ticks only. */
  integerX?: boolean;
  /** x values are epoch milliseconds: ticks on whole UTC hours or days. */
  timeX?: boolean;
  /** Start the y axis at 0 (rates); else it covers the data. */
  yFromZero?: boolean;
}

export interface BarPanel {
  kind: 'bar';
  title: string;
  yLabel: string;
  categories: string[];
  /** One value per category; non-finite values draw no bar. */
  series: { name: string; values: number[] }[];
}

export type Panel = LinePanel | BarPanel;

export interface Figure {
  title: string;
  subtitle?: string;
  panels: Panel[];
  /** Panels per row (default 2, or 1 for a single panel). */
  columns?: number;
}

/** Okabe–Ito: told apart by colour-blind readers too. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999999'];
const DASHES = [undefined, '8 4', '2 3', '12 3 3 3', '3 6', '14 4'];
const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';
const PANEL_W = 480;
const PANEL_H = 320;
const MARGIN = 16;
const HEADER = 58;
const PLOT_LEFT = 62;
const PLOT_RIGHT = 18;
const PLOT_BOTTOM = 46;
const LEGEND_ROW = 16;
/** Markers on a line with at most this many points (a 50-point curve reads better without). */
const MAX_MARKERS = 20;

/** Text width estimate for layout (the average advance of the sans fonts above at this size). */
const textWidth = (s: string, size = 12): number => s.length * size * 0.58;

function format(value: number, decimals: number): string {
  return value.toFixed(Math.min(decimals, 6));
}

/** Integers (counts, epoch milliseconds) exactly; fractions to six significant digits. */
function dataValue(value: number): string {
  return String(Number.isInteger(value) ? value : Number(value.toPrecision(6)));
}

export function renderFigure(figure: Figure): string {
  const columns = Math.max(1, figure.columns ?? Math.min(2, figure.panels.length));
  const rows = Math.max(1, Math.ceil(figure.panels.length / columns));
  const width = MARGIN * 2 + columns * PANEL_W;
  const height = HEADER + rows * PANEL_H + MARGIN;
  const colours = new Map<string, string>();
  const colourOf = (name: string): string => {
    let c = colours.get(name);
    if (c === undefined) {
      c = PALETTE[colours.size % PALETTE.length];
      colours.set(name, c);
    }
    return c;
  };
  const panels = figure.panels.map((panel, i) => {
    const x = MARGIN + (i % columns) * PANEL_W;
    const y = HEADER + Math.floor(i / columns) * PANEL_H;
    const body = panel.kind === 'line' ? linePanel(panel, colourOf) : barPanel(panel, colourOf);
    return tag('g', { class: 'panel', transform: `translate(${x} ${y})`, 'data-kind': panel.kind, 'data-title': panel.title, ...body.attrs }, ...body.parts);
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="figure-title" font-family="${escapeXml(FONT)}">`,
    tag('title', { id: 'figure-title' }, escapeXml(figure.subtitle ? `${figure.title}: ${figure.subtitle}` : figure.title)),
    tag('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    text({ x: MARGIN, y: 26, 'font-size': 18, 'font-weight': 'bold', fill: '#1b1b1f' }, figure.title),
    figure.subtitle ? text({ x: MARGIN, y: 46, 'font-size': 12, fill: '#565661' }, figure.subtitle) : '',
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}

interface PanelBody {
  attrs: Record<string, string>;
  parts: string[];
}

/** The legend rows under a panel's title; returns its markup and height. */
function legend(names: string[], colourOf: (name: string) => string, maxWidth: number, lines = false): { markup: string; height: number } {
  const items: string[] = [];
  let x = PLOT_LEFT;
  let row = 0;
  for (const [i, name] of names.entries()) {
    const w = 22 + textWidth(name) + 14;
    if (x + w > maxWidth && x > PLOT_LEFT) {
      row++;
      x = PLOT_LEFT;
    }
    const y = 38 + row * LEGEND_ROW;
    items.push(
      tag('g', { class: 'legend-item', 'data-series': name },
        lines
          ? tag('line', { x1: x, x2: x + 18, y1: y - 4, y2: y - 4, stroke: colourOf(name), 'stroke-width': 3, 'stroke-dasharray': DASHES[i % DASHES.length] })
          : tag('rect', { x, y: y - 9, width: 16, height: 10, rx: 2, fill: colourOf(name) }),
        text({ x: x + 22, y, 'font-size': 12, fill: '#1b1b1f' }, name)),
    );
    x += w;
  }
  return { markup: tag('g', { class: 'legend' }, ...items, ''), height: names.length === 0 ? 0 : (row + 1) * LEGEND_ROW };
}

interface Frame {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function frameFor(legendHeight: number): Frame {
  return { left: PLOT_LEFT, right: PANEL_W - PLOT_RIGHT, top: 38 + legendHeight + 6, bottom: PANEL_H - PLOT_BOTTOM };
}

/** Grid lines, tick labels and axis titles. `xTicks` may carry labels of their own (categories). */
function axes(frame: Frame, y: Axis, yScale: (v: number) => number, xTicks: { at: number; label: string }[], xLabel: string, yLabel: string): string {
  const parts: string[] = [];
  for (const t of y.ticks) {
    const ty = yScale(t);
    parts.push(tag('line', { x1: frame.left, x2: frame.right, y1: ty, y2: ty, stroke: '#e4e4ea', 'stroke-width': 1 }));
    parts.push(text({ x: frame.left - 6, y: ty + 4, 'font-size': 11, 'text-anchor': 'end', fill: '#565661' }, format(t, y.decimals)));
  }
  for (const t of xTicks) {
    parts.push(tag('line', { x1: t.at, x2: t.at, y1: frame.bottom, y2: frame.bottom + 4, stroke: '#565661' }));
    parts.push(text({ x: t.at, y: frame.bottom + 17, 'font-size': 11, 'text-anchor': 'middle', fill: '#565661' }, t.label));
  }
  parts.push(tag('line', { x1: frame.left, x2: frame.right, y1: frame.bottom, y2: frame.bottom, stroke: '#565661' }));
  parts.push(tag('line', { x1: frame.left, x2: frame.left, y1: frame.top, y2: frame.bottom, stroke: '#565661' }));
  parts.push(text({ x: (frame.left + frame.right) / 2, y: PANEL_H - 10, 'font-size': 12, 'text-anchor': 'middle', fill: '#1b1b1f' }, xLabel));
  const midY = (frame.top + frame.bottom) / 2;
  parts.push(text({ x: 14, y: midY, 'font-size': 12, 'text-anchor': 'middle', transform: `rotate(-90 14 ${px(midY)})`, fill: '#1b1b1f' }, yLabel));
  return tag('g', { class: 'axes' }, ...parts);
}

function title(panel: Panel): string {
  return text({ x: PLOT_LEFT, y: 18, 'font-size': 14, 'font-weight': 'bold', fill: '#1b1b1f' }, panel.title);
}

function noData(frame: Frame): string {
  return text({ x: (frame.left + frame.right) / 2, y: (frame.top + frame.bottom) / 2, 'font-size': 13, 'text-anchor': 'middle', fill: '#565661' }, 'no data');
}

function xAxisFor(xs: number[], integer: boolean): Axis {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  if (integer && hi - lo < 6) {
    const ticks: number[] = [];
    for (let v = Math.floor(lo); v <= Math.ceil(hi); v++) ticks.push(v);
    return lo === hi ? { min: lo - 0.5, max: hi + 0.5, ticks, decimals: 0 } : { min: ticks[0], max: ticks[ticks.length - 1], ticks, decimals: 0 };
  }
  const axis = niceAxis(lo, hi, 5);
  return integer ? { ...axis, ticks: axis.ticks.filter(Number.isInteger), decimals: 0 } : axis;
}

function linePanel(panel: LinePanel, colourOf: (name: string) => string): PanelBody {
  const series = panel.series
    .map((s) => ({ name: s.name, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }))
    .filter((s) => s.points.length > 0);
  const { markup: legendMarkup, height } = legend(series.map((s) => s.name), colourOf, PANEL_W - PLOT_RIGHT, true);
  const frame = frameFor(height);
  const xs = series.flatMap((s) => s.points.map(([x]) => x));
  const ys = series.flatMap((s) => s.points.map(([, y]) => y));
  if (xs.length === 0) return { attrs: {}, parts: [title(panel), noData(frame)] };
  const xAxis = panel.timeX ? timeAxis(Math.min(...xs), Math.max(...xs)) : xAxisFor(xs, panel.integerX === true);
  const yAxis = niceAxis(panel.yFromZero ? Math.min(0, ...ys) : Math.min(...ys), Math.max(...ys), 5);
  const xScale = linear(xAxis.min, xAxis.max, frame.left, frame.right);
  const yScale = linear(yAxis.min, yAxis.max, frame.bottom, frame.top);
  const drawn = series.map((s, i) => {
    const colour = colourOf(s.name);
    // A dash pattern per line: identical curves (a hybrid serving its ALS model) stay visible,
    // and lines differ by more than colour.
    const dash = DASHES[i % DASHES.length];
    const coords = s.points.map(([x, y]) => `${px(xScale(x))},${px(yScale(y))}`);
    const values = s.points.map(([x, y]) => `${dataValue(x)},${dataValue(y)}`).join(' ');
    const markers = s.points.length <= MAX_MARKERS ? coords.map((c) => { const [cx, cy] = c.split(','); return tag('circle', { cx, cy, r: 3, fill: colour }); }) : [];
    return tag('g', { class: 'series', 'data-series': s.name, 'data-values': values },
      s.points.length > 1 ? tag('polyline', { points: coords.join(' '), fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-linejoin': 'round', 'stroke-dasharray': dash }) : '',
      ...markers);
  });
  const xTicks = xAxis.ticks.map((t) => ({ at: xScale(t), label: panel.timeX ? timeLabel(t, xAxis) : format(t, xAxis.decimals) }));
  return {
    attrs: { 'data-x-min': String(xAxis.min), 'data-x-max': String(xAxis.max), 'data-y-min': String(yAxis.min), 'data-y-max': String(yAxis.max) },
    parts: [title(panel), legendMarkup, axes(frame, yAxis, yScale, xTicks, panel.xLabel, panel.yLabel), ...drawn],
  };
}

function barPanel(panel: BarPanel, colourOf: (name: string) => string): PanelBody {
  const { markup: legendMarkup, height } = legend(panel.series.map((s) => s.name), colourOf, PANEL_W - PLOT_RIGHT);
  const frame = frameFor(height + 14);
  const values = panel.series.flatMap((s) => s.values).filter(Number.isFinite);
  if (values.length === 0 || panel.categories.length === 0) return { attrs: {}, parts: [title(panel), noData(frame)] };
  const yAxis = niceAxis(Math.min(0, ...values), Math.max(...values), 5);
  const yScale = linear(yAxis.min, yAxis.max, frame.bottom, frame.top);
  const slot = (frame.right - frame.left) / panel.categories.length;
  const barW = Math.min(36, (slot * 0.8) / Math.max(1, panel.series.length));
  const parts: string[] = [];
  panel.series.forEach((s, si) => {
    const colour = colourOf(s.name);
    const bars = panel.categories.map((category, ci) => {
      const v = s.values[ci];
      if (!Number.isFinite(v)) return '';
      const x = frame.left + ci * slot + (slot - barW * panel.series.length) / 2 + si * barW;
      const top = yScale(Math.max(0, v));
      const h = Math.abs(yScale(v) - yScale(0));
      return tag('g', { class: 'bar', 'data-category': category, 'data-value': dataValue(v) },
        tag('rect', { x, y: top, width: barW - 2, height: Math.max(h, 0.5), fill: colour }),
        text({ x: x + (barW - 2) / 2, y: top - 4, 'font-size': 10, 'text-anchor': 'middle', fill: '#1b1b1f' }, format(v, 3)));
    });
    parts.push(tag('g', { class: 'series', 'data-series': s.name, 'data-values': s.values.map((v) => (Number.isFinite(v) ? dataValue(v) : 'NaN')).join(' ') }, ...bars, ''));
  });
  const xTicks = panel.categories.map((c, ci) => ({ at: frame.left + (ci + 0.5) * slot, label: c }));
  return {
    attrs: { 'data-y-min': String(yAxis.min), 'data-y-max': String(yAxis.max) },
    parts: [title(panel), legendMarkup, axes(frame, yAxis, yScale, xTicks, '', panel.yLabel), ...parts],
  };
}
