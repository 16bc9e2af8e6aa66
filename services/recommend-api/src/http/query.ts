/**
 * The query string as Koa's `ctx.query` gives it (WHATWG application/x-www-form-urlencoded: `&`
 * separates pairs, the first `=` splits a pair, a repeated key becomes an array), without
 * URLSearchParams for the common case: Koa 3 builds one per request, a visible share of a
 * recommendation's cost under load (docs/benchmarks.md). Strings with escapes (`%`, `+`) still go through
 * URLSearchParams, so decoding (lenient percent-decoding, U+FFFD for bad UTF-8) stays exactly the
 * standard's.
 */
export type Query = Record<string, string | string[]>;

function add(out: Query, key: string, value: string): void {
  const prev = out[key];
  out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
}

export function parseQuery(querystring: string): Query {
  // No prototype: a key such as "__proto__" or "constructor" is just a key.
  const out: Query = Object.create(null) as Query;
  if (querystring === '') return out;
  if (querystring.includes('%') || querystring.includes('+')) {
    const params = new URLSearchParams(querystring);
    for (const [key, value] of params) add(out, key, value);
    return out;
  }
  let start = 0;
  while (start <= querystring.length) {
    let end = querystring.indexOf('&', start);
    if (end < 0) end = querystring.length;
    if (end > start) {
      const eq = querystring.indexOf('=', start);
      if (eq >= 0 && eq < end) add(out, querystring.slice(start, eq), querystring.slice(eq + 1, end));
      else add(out, querystring.slice(start, end), '');
    }
    start = end + 1;
  }
  return out;
}
