/**
 * Where a figure goes: `FILE.svg` as Vega renders it, `FILE.png` rasterised from that SVG by resvg
 * (a Rust renderer shipped as a prebuilt Node binding, so no browser is needed) with the machine's
 * fonts, or `FILE.json` as the Vega-Lite specification itself (data inline; opens in any Vega-Lite
 * editor). `--plot` may be given several times to write one figure in several formats.
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { figureSpec, renderSvg, type Figure } from '@netflicks/charts';
import { outputFile } from '../flags.js';

export type PlotFormat = 'svg' | 'png' | 'json';

/** Device pixels per SVG pixel in a PNG: sharp on high-density screens, still small files. */
const PNG_ZOOM = 2;

export function plotFormat(path: string): PlotFormat | null {
  const ext = extname(path).toLowerCase();
  return ext === '.svg' ? 'svg' : ext === '.png' ? 'png' : ext === '.json' ? 'json' : null;
}

/** Commander parser for a repeatable `--plot FILE`: .svg, .png or .json, in a folder that exists. */
export function plotFiles(value: string, previous?: string[]): string[] {
  if (plotFormat(value) === null) throw new InvalidArgumentError('must end in .svg, .png or .json (the Vega-Lite specification)');
  return [...(previous ?? []), outputFile(value)];
}

export async function svgToPng(svg: string): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const renderer = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: PNG_ZOOM },
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return renderer.render().asPng();
}

/** Writes the figure to each file in the format its name asks for (rendered once). */
export async function writePlots(paths: readonly string[], figure: Figure): Promise<void> {
  const spec = figureSpec(figure);
  let svg: string | undefined;
  for (const path of paths) {
    const format = plotFormat(path);
    if (format === null) throw new RangeError(`plot file must end in .svg, .png or .json, got ${path}`);
    if (format === 'json') {
      await writeFile(path, `${JSON.stringify(spec, null, 2)}\n`);
      continue;
    }
    svg ??= await renderSvg(spec);
    await writeFile(path, format === 'svg' ? svg : await svgToPng(svg));
  }
}
