/**
 * Where a figure goes: `FILE.svg` as is, `FILE.png` rasterised by resvg (a Rust renderer shipped
 * as a prebuilt Node binding, so no browser is needed) with the machine's fonts.
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { outputFile } from '../flags.js';

export type PlotFormat = 'svg' | 'png';

/** Device pixels per SVG pixel in a PNG: sharp on high-density screens, still small files. */
const PNG_ZOOM = 2;

export function plotFormat(path: string): PlotFormat | null {
  const ext = extname(path).toLowerCase();
  return ext === '.svg' ? 'svg' : ext === '.png' ? 'png' : null;
}

/** Commander parser for `--plot FILE`: .svg or .png, in a folder that exists. */
export function plotFile(value: string): string {
  if (plotFormat(value) === null) throw new InvalidArgumentError('must end in .svg or .png');
  return outputFile(value);
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

/** Writes the figure in the format the file name asks for. */
export async function writePlot(path: string, svg: string): Promise<void> {
  const format = plotFormat(path);
  if (format === null) throw new RangeError(`plot file must end in .svg or .png, got ${path}`);
  await writeFile(path, format === 'svg' ? svg : await svgToPng(svg));
}
