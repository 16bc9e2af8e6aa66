/**
 * Vega-Lite specification → standalone SVG document, headless: Vega's scenegraph rendered to an
 * SVG string by its own SVG renderer (no DOM, no browser, no canvas; text widths are estimated).
 */
import { parse, View } from 'vega';
import { compile } from 'vega-lite';
import type { Figure } from './figure.js';
import { figureSpec, type VegaLiteSpec } from './vega-lite-spec.js';

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Vega labels every axis, legend and point for assistive technology but leaves the document itself
 * unnamed: the spec's description names it (attribute and `<title>`, read by screen readers and as
 * a tooltip).
 */
function named(svg: string, description: string | undefined): string {
  if (!description) return svg;
  const name = escapeXml(description);
  return svg.replace(/^<svg ([^>]*)>/, `<svg $1 role="graphics-document document" aria-label="${name}"><title>${name}</title>`);
}

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return `${named(await view.toSVG(), spec.description)}\n`;
  } finally {
    view.finalize();
  }
}

export function renderFigure(figure: Figure): Promise<string> {
  return renderSvg(figureSpec(figure));
}
