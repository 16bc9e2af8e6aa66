/**
 * Reads a chart rendered by Vega back from its SVG: resvg parses the document (it throws on
 * malformed SVG), and Vega's accessibility labels give each titled text, legend and marked point
 * (`x title: x; y title: y; series: name`) — what a screen reader would announce.
 */
import { Resvg } from '@resvg/resvg-js';

export interface VegaSvg {
  width: number;
  height: number;
  /** Panel titles, figure title and subtitle, in document order. */
  titles: string[];
  /** Each legend's series names. */
  legends: string[][];
  /** Each point marker or bar (not the line through them): its fields by axis title. */
  points: Record<string, string>[];
}

const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

export function readVegaSvg(svg: string): VegaSvg {
  const parsed = new Resvg(svg);
  const labels = [...svg.matchAll(/aria-label="([^"]*)"/g)].map((m) => unescape(m[1]));
  const titles = labels.flatMap((l) => /^(?:Sub)?[Tt]itle text '(.*)'$/.exec(l)?.[1] ?? []);
  const legends = labels.flatMap((l) => {
    const m = /^Symbol legend for .* with \d+ values?: (.*)$/.exec(l);
    return m ? [m[1].split(', ')] : [];
  });
  const points = [...svg.matchAll(/aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="(?:point|bar)"/g)]
    .map((m) => unescape(m[1]))
    .map((l) => Object.fromEntries(l.split('; ').map((kv) => [kv.slice(0, kv.lastIndexOf(': ')), kv.slice(kv.lastIndexOf(': ') + 2)])));
  return { width: parsed.width, height: parsed.height, titles, legends, points };
}
