/**
 * The API's route table: a handful of fixed GET paths with at most one parameter, matched exactly
 * as @koa/router (path-to-regexp 8, `strict: false`, case-insensitive) matched them — so the
 * same requests reach the same handlers with the same parameters — without its per-request cost.
 *
 * Why not @koa/router: measured under load it cost ~15-20 µs per request on the benchmark machine
 * (host parsing, building and composing a middleware chain per request, parameter objects),
 * 10-15% of a recommendation's total; a table of precompiled regular expressions costs well under
 * a microsecond. Semantics kept (tests in test/api.test.ts):
 * - a template `/a/:p` matches `/a/x` and `/a/x/` (one optional trailing slash), any letter case
 *   of the literal part, not `/a/`, `/a//x` or `/a/x/y`;
 * - parameters are one path segment of at least one character, percent-decoded (a malformed
 *   escape is passed on undecoded, for the handler's validation to refuse);
 * - the path is the raw request path (before decoding), without the query string.
 */

export interface RouteMatch<H> {
  /** The template, e.g. "/recommend/:userId" (the metrics' route label). */
  template: string;
  handler: H;
  /** Decoded parameter values, in template order. */
  params: string[];
}

interface CompiledRoute<H> {
  template: string;
  pattern: RegExp;
  handler: H;
}

export class RouteTable<H> {
  private readonly routes: CompiledRoute<H>[] = [];

  /** Adds a route; templates are literal segments and `:name` parameters. Most used first. */
  add(template: string, handler: H): this {
    if (!/^(\/(:[A-Za-z_]\w*|[A-Za-z0-9._-]+))+$/.test(template)) throw new Error(`unsupported route template ${template}`);
    const source = template
      .split('/')
      .slice(1)
      .map((segment) => (segment.startsWith(':') ? '\\/([^\\/]+)' : `\\/${segment.replace(/[.]/g, '\\.')}`))
      .join('');
    this.routes.push({ template, pattern: new RegExp(`^(?:${source})(?:\\/$)?$`, 'i'), handler });
    return this;
  }

  match(path: string): RouteMatch<H> | null {
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params = new Array<string>(m.length - 1);
      for (let j = 1; j < m.length; j++) params[j - 1] = safeDecode(m[j]);
      return { template: route.template, handler: route.handler, params };
    }
    return null;
  }

  get templates(): string[] {
    return this.routes.map((r) => r.template);
  }
}

function safeDecode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
