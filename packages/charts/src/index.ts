export type { BarPanel, Figure, LinePanel, LineSeries, Panel } from './figure.js';
export { barData, figureSpec, lineData, type BarDatum, type LineDatum, type VegaLiteSpec } from './vega-lite-spec.js';
export { renderFigure, renderSvg } from './render.js';
