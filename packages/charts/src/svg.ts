/** Writing SVG markup: escaped text and attributes, numbers with bounded precision. */

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** A coordinate: two decimals are below a pixel at any zoom the PNG uses. */
export function px(x: number): string {
  return String(Math.round(x * 100) / 100);
}

type Attrs = Record<string, string | number | undefined>;

/** `<tag a="…">children</tag>` (self-closing without children); undefined attributes are left out. */
export function tag(name: string, attrs: Attrs, ...children: string[]): string {
  let open = `<${name}`;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) open += ` ${k}="${escapeXml(typeof v === 'number' ? px(v) : v)}"`;
  return children.length === 0 ? `${open}/>` : `${open}>${children.join('')}</${name}>`;
}

export function text(attrs: Attrs, content: string): string {
  return tag('text', attrs, escapeXml(content));
}
