/**
 * The Models view's picture of the online evaluation: hit rate and click-through per evaluated
 * bucket, one line per model version and strategy, rendered here by Vega-Lite to an SVG document
 * (the same chart module as the CLI's plots) so the page needs no charting code of its own and
 * works offline. The chart module (Vega, Vega-Lite, d3: ~8 MB of heap and more of code) is
 * imported on the first chart drawn, not by every serving process at start.
 */
import type { LineSeries } from '@netflicks/charts';
import type { OnlineEvaluationPoint } from '@netflicks/db';

export async function onlineChart(points: readonly OnlineEvaluationPoint[]): Promise<string | null> {
  if (points.length === 0) return null;
  const byKey = new Map<string, OnlineEvaluationPoint[]>();
  for (const p of points) {
    const key = `${p.modelVersion} ${p.strategy}`;
    byKey.set(key, [...(byKey.get(key) ?? []), p]);
  }
  const series = (rate: (p: OnlineEvaluationPoint) => number): LineSeries[] =>
    [...byKey].map(([name, ps]) => ({ name, points: ps.map((p) => [p.bucketStart.getTime(), rate(p)] as [number, number]) }));
  const first = points[0].bucketStart.toISOString().slice(0, 16).replace('T', ' ');
  const last = points[points.length - 1].bucketStart.toISOString().slice(0, 16).replace('T', ' ');
  const { renderFigure } = await import('@netflicks/charts');
  return await renderFigure({
    title: 'Online hit rate and click-through',
    subtitle: `by model version and strategy, per evaluated bucket, ${first} to ${last} UTC`,
    panels: [
      { kind: 'line', title: 'Hit rate', xLabel: 'bucket start (UTC)', yLabel: 'lists with a hit', series: series((p) => p.hitRate), timeX: true, yFromZero: true },
      { kind: 'line', title: 'Click-through', xLabel: 'bucket start (UTC)', yLabel: 'items engaged / served', series: series((p) => p.clickThroughRate), timeX: true, yFromZero: true },
    ],
  });
}
