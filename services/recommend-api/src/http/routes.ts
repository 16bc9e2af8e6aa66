/**
 * The API's route table, matched by @koa/router (path-to-regexp, `strict: false`,
 * case-insensitive) without running its middleware chain: `Router#match` finds the layer and the
 * layer decodes the parameters, and the one application middleware (app.ts) calls the handler.
 *
 * Why not `router.routes()`: composing and running the router's middleware chain per request is
 * a visible share of a recommendation's cost under load (docs/benchmarks.md); the matching itself is the same precompiled regular expressions either way. Semantics (tests in
 * test/api.test.ts): `/a/:p` matches `/a/x` and `/a/x/`, any letter case of the literal part, not
 * `/a/`, `/a//x` or `/a/x/y`; parameters are one percent-decoded path segment (a malformed escape
 * is passed on undecoded for the handler's validation to refuse).
 */
import Router from '@koa/router';

export interface RouteMatch<H> {
  /** The template, e.g. "/recommend/:userId" (the metrics' route label). */
  template: string;
  handler: H;
  /** Decoded parameter values, in template order. */
  params: string[];
}

export class RouteTable<H> {
  private readonly router = new Router();
  private readonly handlers = new Map<string, H>();
  private readonly order: string[] = [];

  /** Adds a GET route; templates are literal segments and `:name` parameters. */
  add(template: string, handler: H): this {
    if (!/^(\/(:[A-Za-z_]\w*|[A-Za-z0-9._-]+))+$/.test(template)) throw new Error(`unsupported route template ${template}`);
    this.router.get(template, () => undefined);
    this.handlers.set(template, handler);
    this.order.push(template);
    return this;
  }

  match(path: string): RouteMatch<H> | null {
    const layer = this.router.match(path, 'GET').pathAndMethod[0];
    if (!layer) return null;
    const handler = this.handlers.get(layer.path as string);
    if (handler === undefined) return null;
    const values = layer.params(path, layer.captures(path), {}) as Record<string, string>;
    return { template: layer.path as string, handler, params: layer.paramNames.map((p: { name: string | number }) => values[String(p.name)]) };
  }

  get templates(): string[] {
    return [...this.order];
  }
}
