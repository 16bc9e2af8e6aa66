#!/usr/bin/env node
/**
 * The reference servers of the recommend-API benchmark, each in its own process: a bare Koa
 * route, a bare `node:http` handler and a bare Fastify 5 route, all answering any GET with the
 * same JSON body — a real `/recommend` response, given as a file — serialised on every request
 * (`JSON.stringify` of the parsed object plus a fresh request id), as a service without
 * pre-rendered bodies would. They are the framework ceilings the service is compared with.
 *
 *   node services/recommend-api/bench/references.mjs --kind koa|http|fastify --body FILE [--fastify DIR] [--port N]
 *
 * Prints `{"port":N}` once listening (127.0.0.1, --port or a free one). Koa comes from this workspace;
 * Fastify from DIR (scripts/bench-tools.sh installs it outside the workspace, so the service's
 * dependencies stay as they are).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { kind: { type: 'string' }, body: { type: 'string' }, fastify: { type: 'string' }, port: { type: 'string', default: '0' } } });
const template = JSON.parse(readFileSync(values.body, 'utf8'));
/** The response object of one request: the same fields, a new request id. */
const bodyObject = () => ({ ...template, requestId: randomUUID() });
const listenPort = Number(values.port);
const ready = (port) => console.log(JSON.stringify({ port }));

if (values.kind === 'koa') {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = bodyObject();
  });
  const server = app.listen(listenPort, '127.0.0.1', () => ready(server.address().port));
} else if (values.kind === 'http') {
  const server = createServer((req, res) => {
    const body = JSON.stringify(bodyObject());
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(listenPort, '127.0.0.1', () => ready(server.address().port));
} else if (values.kind === 'fastify') {
  if (!values.fastify) throw new Error('--fastify DIR (where fastify is installed) is required');
  const Fastify = createRequire(resolve(values.fastify, 'package.json'))('fastify');
  const app = Fastify({ logger: false });
  app.get('/*', async () => bodyObject());
  await app.listen({ port: listenPort, host: '127.0.0.1' });
  ready(app.server.address().port);
} else {
  throw new Error('--kind must be koa, http or fastify');
}
