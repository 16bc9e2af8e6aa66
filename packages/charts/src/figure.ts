/** What the project plots, independent of how it is drawn: small multiples of line and bar panels. */

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
  /** x values are epoch milliseconds, shown in UTC. */
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
