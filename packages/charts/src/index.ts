export { renderFigure, type BarPanel, type Figure, type LinePanel, type LineSeries, type Panel } from './chart.js';
export { linear, niceAxis, timeAxis, timeLabel, type Axis } from './scale.js';
