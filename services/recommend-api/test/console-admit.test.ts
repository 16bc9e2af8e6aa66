/**
 * The console's access hook: every `/console/api/` request passes the API's check first (here a
 * check that wants an x-api-key header), while the page itself needs no credentials.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createLogger } from '@netflicks/platform';
import { consoleMiddleware } from '../src/console/console-routes.js';
import { NO_FRESH_RATINGS } from '../src/fresh-ratings.js';
import { ApiError } from '../src/http/errors.js';
import { ModelHolder } from '../src/model/model-holder.js';

let server: Server;
let url: string;
let checks = 0;

beforeAll(async () => {
  const app = new Koa();
  app.use(
    consoleMiddleware({
      holder: new ModelHolder(),
      fresh: NO_FRESH_RATINGS,
      logger: createLogger({ component: 'console-admit-test', level: 'silent' }),
      admit: async (ctx) => {
        checks++;
        if (ctx.get('x-api-key') !== 'k1') throw new ApiError(401, 'invalid_parameter', 'credentials required');
      },
    }),
  );
  server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

test('the console API is checked before anything else; the page is not', async () => {
  expect((await fetch(`${url}/console`)).status).toBe(200);
  expect(checks).toBe(0);
  const refused = await fetch(`${url}/console/api/overview`);
  expect(refused.status).toBe(401);
  expect(((await refused.json()) as { message: string }).message).toBe('credentials required');
  const write = await fetch(`${url}/console/api/users/5/ratings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"movieId":1,"rating":4}' });
  expect(write.status).toBe(401);
  // Admitted: on to the handler (no model is loaded here, so 503).
  expect((await fetch(`${url}/console/api/overview`, { headers: { 'x-api-key': 'k1' } })).status).toBe(503);
  expect(checks).toBe(3);
});
