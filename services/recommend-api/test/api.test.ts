/**
 * The service end to end over HTTP, serving a real model file trained in beforeAll: routes and
 * their JSON (checked against the OpenAPI document), strategies, exclusion of seen movies,
 * metrics (names and promtool), bad input, hot swap under load and graceful shutdown.
 */
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { copyFile, rename } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import fc from 'fast-check';
import { createLogger } from '@netflicks/platform';
import { decodeModelFile, openBundle, type LoadedBundle } from '@netflicks/recsys';
import { loadApiConfig, openApiDocument, runRecommendApi, type FreshRatingsSource, type RunningApi } from '../src/index.js';
import { underLoad } from '../../../test/support/load.js';
import { skipOrFail } from '../../../test/support/skip.js';
import { responseSchema, schemaErrors, tempDir, trainTestModel, type TempDir, type TestModel } from './support.js';

const logger = createLogger({ component: 'recommend-api-test', level: 'silent' });
const doc = openApiDocument();

let dir: TempDir;
let modelA: TestModel;
let modelB: TestModel;
let bundle: LoadedBundle;
let api: RunningApi;
let exits: number[];

/** Fresh ratings scripted per user (no database in this file). */
const scripted = new Map<number, { movieId: number; rating: number }[]>();
let freshDelayMs = 0;
const fresh: FreshRatingsSource = {
  async get(userId) {
    if (freshDelayMs > 0) await new Promise((r) => setTimeout(r, freshDelayMs));
    return scripted.get(userId) ?? [];
  },
};

async function start(modelPath: string, env: Record<string, string> = {}): Promise<RunningApi> {
  const config = loadApiConfig({ MODEL_FILE: modelPath, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DRAIN_TIMEOUT_MS: '5000', ...env });
  return runRecommendApi(config, { logger, exit: (code) => exits.push(code), signalSource: new EventEmitter() as never, fresh });
}

async function get(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${api.url}${path}`, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers };
}

function trainingMovies(userId: number): Set<number> {
  const u = bundle.users.index(userId);
  const h = bundle.history;
  return new Set(Array.from(h.indices.subarray(h.indptr[u], h.indptr[u + 1]), (i) => bundle.items.id(i)));
}

beforeAll(async () => {
  dir = await tempDir();
  modelA = await trainTestModel({ seed: 7 });
  modelB = await trainTestModel({ seed: 8 });
  await dir.write('a.nflx', modelA.bytes);
  await dir.write('b.nflx', modelB.bytes);
  await copyFile(dir.file('a.nflx'), dir.file('serving.nflx'));
  bundle = openBundle(decodeModelFile(modelA.bytes));
  exits = [];
  api = await start(dir.file('serving.nflx'));
});

afterAll(async () => {
  await api?.stop();
  await dir?.remove();
});

describe('routes', () => {
  test('GET /recommend/:userId for a training user: cf, k items, none already rated, JSON per the OpenAPI document', async () => {
    const userId = bundle.users.id(0);
    const res = await get(`/recommend/${userId}?k=7`, { headers: { 'x-request-id': 'test-req-1' } });
    expect(res.status).toBe(200);
    expect(schemaErrors(doc, responseSchema(doc, '/recommend/{userId}', 200), res.body)).toEqual([]);
    expect(res.body).toMatchObject({ userId, strategy: 'cf', model: { name: 'serving', version: null }, requestId: 'test-req-1' });
    expect(res.headers.get('x-request-id')).toBe('test-req-1');
    const items = res.body.items as { movieId: number; title: string; score: number }[];
    expect(items).toHaveLength(7);
    const seen = trainingMovies(userId);
    for (const it of items) expect(seen.has(it.movieId)).toBe(false);
    for (let j = 1; j < items.length; j++) expect(items[j - 1].score).toBeGreaterThanOrEqual(items[j].score);
    expect(items[0].title).toBe(bundle.movie(items[0].movieId)?.title);
    // The same list the recsys hybrid policy gives.
    expect(items.map((i) => i.movieId)).toEqual(bundle.recommend({ userId, k: 7 }).items.map((i) => i.movieId));
  });

  test('default k is 10; exclude_seen=false may return rated movies', async () => {
    const userId = bundle.users.id(1);
    const res = await get(`/recommend/${userId}`);
    expect((res.body.items as unknown[]).length).toBe(10);
    const all = await get(`/recommend/${userId}?k=100&exclude_seen=false`);
    const seen = trainingMovies(userId);
    expect((all.body.items as { movieId: number }[]).some((i) => seen.has(i.movieId))).toBe(true);
  });

  test('genre filter is case-insensitive and only returns that genre', async () => {
    const userId = bundle.users.id(2);
    const res = await get(`/recommend/${userId}?k=20&genre=dRaMa`);
    expect(res.status).toBe(200);
    const items = res.body.items as { genres: string[] }[];
    expect(items.length).toBeGreaterThan(0);
    for (const it of items) expect(it.genres).toContain('Drama');
  });

  test('an unknown user gets popularity (200)', async () => {
    const res = await get('/recommend/2000000000?k=5');
    expect(res.status).toBe(200);
    expect(res.body.strategy).toBe('popularity');
    expect((res.body.items as { movieId: number }[]).map((i) => i.movieId)).toEqual(bundle.recommend({ userId: 2_000_000_000, k: 5 }).items.map((i) => i.movieId));
  });

  test('strategies follow the history: fresh ratings make a new user content (1-4) then cf (≥5), rated movies excluded', async () => {
    const movies = Array.from(bundle.items.toArray()).slice(0, 6);
    scripted.set(1_500_000, movies.slice(0, 2).map((movieId) => ({ movieId, rating: 5 })));
    scripted.set(1_500_001, movies.map((movieId) => ({ movieId, rating: 4 })));
    const light = await get('/recommend/1500000?k=50');
    expect(light.body.strategy).toBe('content');
    expect((light.body.items as { movieId: number }[]).map((i) => i.movieId)).not.toEqual(expect.arrayContaining([movies[0]]));
    const folded = await get('/recommend/1500001?k=100');
    expect(folded.body.strategy).toBe('cf');
    const ids = new Set((folded.body.items as { movieId: number }[]).map((i) => i.movieId));
    for (const m of movies) expect(ids.has(m)).toBe(false);
    // A training user's fresh rating is excluded too.
    const userId = bundle.users.id(3);
    const before = (await get(`/recommend/${userId}?k=3`)).body.items as { movieId: number }[];
    scripted.set(userId, [{ movieId: before[0].movieId, rating: 1 }]);
    const after = (await get(`/recommend/${userId}?k=3`)).body.items as { movieId: number }[];
    expect(after.map((i) => i.movieId)).not.toContain(before[0].movieId);
  });

  test('GET /similar/:movieId and /movies/:movieId', async () => {
    const movieId = bundle.items.id(0);
    const sim = await get(`/similar/${movieId}?k=4`);
    expect(sim.status).toBe(200);
    expect(schemaErrors(doc, responseSchema(doc, '/similar/{movieId}', 200), sim.body)).toEqual([]);
    expect((sim.body.items as { movieId: number }[]).map((i) => i.movieId)).not.toContain(movieId);
    expect(sim.body.items).toHaveLength(4);
    const movie = await get(`/movies/${movieId}`);
    expect(movie.status).toBe(200);
    expect(schemaErrors(doc, responseSchema(doc, '/movies/{movieId}', 200), movie.body)).toEqual([]);
    expect(movie.body).toMatchObject({ movieId, title: bundle.movie(movieId)?.title });
    expect(movie.body.ratings).toBeGreaterThan(0);
    expect((await get('/movies/99999999')).status).toBe(404);
    expect((await get('/similar/99999999')).body.error).toBe('not_found');
  });

  test('/healthz, /readyz, /openapi.json (a valid OpenAPI 3.1 document listing every route)', async () => {
    expect((await get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', model: { name: 'serving', version: null } });
    const served = (await get('/openapi.json')).body;
    expect(served).toEqual(openApiDocument({ genres: api.holder.current!.engine.genres }));
    const result = await new Validator().validate(served);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(served.paths as object).sort()).toEqual(
      ['/healthz', '/metrics', '/movies/{movieId}', '/openapi.json', '/readyz', '/recommend/{userId}', '/similar/{movieId}'].sort(),
    );
  });
});

describe('routing and response encoding', () => {
  test('paths match as @koa/router matched them: any letter case, one optional trailing slash, percent-decoded parameters', async () => {
    const userId = bundle.users.id(4);
    const reference = await get(`/recommend/${userId}?k=3`);
    expect(reference.status).toBe(200);
    const encoded = String(userId).replace(/^\d/, (d) => `%3${d}`); // the first digit percent-encoded
    for (const path of [`/RECOMMEND/${userId}?k=3`, `/recommend/${userId}/?k=3`, `/Recommend/${encoded}?k=3`]) {
      const res = await get(path);
      expect({ path, status: res.status, items: res.body.items }).toEqual({ path, status: 200, items: reference.body.items });
    }
    for (const path of [`/recommend//${userId}`, `/recommend/${userId}/x`, `/recommend/${userId}//`, '/recommend/']) {
      expect({ path, status: (await get(path)).status }).toEqual({ path, status: 404 });
    }
    expect((await get('/HEALTHZ/')).body).toEqual({ status: 'ok' });
    expect((await get('/openapiXjson')).status).toBe(404); // the dot is literal
    const head = await fetch(`${api.url}/recommend/${userId}?k=3`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const options = await fetch(`${api.url}/recommend/${userId}`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });

  test('list bodies are exactly what JSON.stringify writes for the same object, typed application/json', async () => {
    const userId = bundle.users.id(5);
    for (const path of [`/recommend/${userId}?k=25`, `/recommend/1999999998?k=4&genre=comedy`, `/similar/${bundle.items.id(2)}?k=6`]) {
      const res = await fetch(`${api.url}${path}`, { headers: { 'x-request-id': 'enc-1' } });
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const text = await res.text();
      const body = JSON.parse(text) as { items: { movieId: number; title: string; year: number | null; genres: string[]; score: number }[] };
      expect(text).toBe(JSON.stringify(body));
      expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
      for (const it of body.items) {
        const m = bundle.movie(it.movieId);
        expect(it).toEqual({ movieId: it.movieId, title: m?.title, year: m?.year ?? null, genres: m?.genres, score: it.score });
      }
    }
  });

  test('only failures and slow requests are logged', async () => {
    const lines: Record<string, unknown>[] = [];
    const capture = createLogger({ component: 'slow-test', level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } });
    const config = loadApiConfig({ MODEL_FILE: dir.file('a.nflx'), PORT: '0', HOST: '127.0.0.1', SLOW_REQUEST_MS: '50' });
    const local = await runRecommendApi(config, { logger: capture, exit: () => {}, signalSource: new EventEmitter() as never, fresh });
    try {
      const quiet = lines.length;
      const userId = bundle.users.id(7);
      expect((await fetch(`${local.url}/recommend/${userId}`)).status).toBe(200);
      expect(lines.slice(quiet)).toEqual([]);
      freshDelayMs = 80;
      expect((await fetch(`${local.url}/recommend/${userId}?k=3`, { headers: { 'x-request-id': 'slow-1' } })).status).toBe(200);
      expect(lines.slice(quiet)).toEqual([
        expect.objectContaining({ level: 'warn', msg: 'slow request', requestId: 'slow-1', route: '/recommend/:userId', status: 200, method: 'GET' }),
      ]);
    } finally {
      freshDelayMs = 0;
      await local.stop();
    }
  });

  test('a repeated request is served from the result cache with the same list', async () => {
    const userId = bundle.users.id(6);
    const hits = async (): Promise<number> => {
      const text = await (await fetch(`${api.url}/metrics`)).text();
      return Number(/^recommend_result_cache_total\{[^}]*result="hit"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const first = await get(`/recommend/${userId}?k=20`);
    await get(`/recommend/${userId}?k=20`); // a list is stored from its second request
    const before = await hits();
    const again = await get(`/recommend/${userId}?k=20`);
    const prefix = await get(`/recommend/${userId}?k=5`);
    expect(await hits()).toBe(before + 2);
    expect(again.body.items).toEqual(first.body.items);
    expect(prefix.body.items).toEqual((first.body.items as unknown[]).slice(0, 5));
  });
});

describe('metrics', () => {
  test('the issue-5 metrics are exposed with their labels', async () => {
    await get(`/recommend/${bundle.users.id(0)}`);
    await get('/recommend/1999999999');
    const text = await (await fetch(`${api.url}/metrics`)).text();
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{.*route="\/recommend\/:userId",method="GET",status="200"/m);
    expect(text).toMatch(/^recommendations_served_total\{[^}]*strategy="cf"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^recommendations_served_total\{[^}]*strategy="popularity"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^recommendation_items_bucket\{/m);
    expect(text).toMatch(/^recommendation_user_segment_requests_total\{[^}]*segment="active"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^recommendation_user_segment_requests_total\{[^}]*segment="cold"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^# TYPE recommendation_requests_per_user histogram/m);
    expect(text).toMatch(/^recommend_model_info\{.*model="serving",version="file-[0-9a-f]{12}",source="file"[^}]*\} 1/m);
    expect(text).toMatch(/^netflicks_process_cpu_user_seconds_total/m);
    // No user or movie ids in labels.
    expect(text).not.toMatch(/user(_?id)?="/i);
  });

  test('/metrics passes promtool check metrics', async () => {
    const text = await (await fetch(`${api.url}/metrics`)).text();
    const outcome = await promtool(text);
    if (outcome === 'missing') {
      skipOrFail({ suite: 'promtool check of /metrics', needs: 'promtool', enable: 'apt-get install -y prometheus', reason: 'promtool is not on PATH' });
      return;
    }
    expect(outcome).toEqual({ code: 0, output: '' });
  });
});

function promtool(text: string): Promise<{ code: number; output: string } | 'missing'> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') return resolve('missing');
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}`.trim() });
    });
    child.stdin?.end(text);
  });
}

describe('bad input', () => {
  test.each(
    ([
    ['/recommend/abc', 400, 'invalid_user_id'],
    ['/recommend/-1', 400, 'invalid_user_id'],
    ['/recommend/0', 400, 'invalid_user_id'],
    ['/recommend/1.5', 400, 'invalid_user_id'],
    ['/recommend/1e3', 400, 'invalid_user_id'],
    ['/recommend/01', 400, 'invalid_user_id'],
    ['/recommend/2147483648', 400, 'invalid_user_id'],
    ['/recommend/99999999999999999999999', 400, 'invalid_user_id'],
    ['/recommend/%20', 400, 'invalid_user_id'],
    ['/recommend/%E0%A4%A', 400, 'invalid_user_id'],
    ['/recommend/1?k=0', 400, 'invalid_parameter'],
    ['/recommend/1?k=101', 400, 'invalid_parameter'],
    ['/recommend/1?k=abc', 400, 'invalid_parameter'],
    ['/recommend/1?k=2.5', 400, 'invalid_parameter'],
    ['/recommend/1?k=-3', 400, 'invalid_parameter'],
    ['/recommend/1?k=1&k=2', 400, 'invalid_parameter'],
    ['/recommend/1?genre=NoSuchGenre', 400, 'unknown_genre'],
    ['/recommend/1?genre=', 400, 'invalid_parameter'],
    ['/recommend/1?exclude_seen=maybe', 400, 'invalid_parameter'],
    ['/similar/abc', 400, 'invalid_movie_id'],
    ['/similar/1?k=1000', 400, 'invalid_parameter'],
    ['/movies/-5', 400, 'invalid_movie_id'],
    ['/movies/123456789', 404, 'not_found'],
    ['/nope', 404, 'not_found'],
    ['/recommend', 404, 'not_found'],
    [`/recommend/1?x=${'a'.repeat(3000)}`, 414, 'uri_too_long'],
  ] as const).map(([path, status, error]) => ({ label: path.length > 60 ? `${path.slice(0, 30)}… (${path.length} characters)` : path, path, status, error })),
  )('GET $label → $status $error', async ({ path, status, error }) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error });
    expect(typeof res.body.message).toBe('string');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/); // no stack
  });

  test.each(['POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND'])('%s → 405 with Allow', async (method) => {
    const res = await get('/recommend/1', { method });
    expect(res.status).toBe(405);
    expect(res.body.error).toBe('method_not_allowed');
    expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });

  /** Writes raw bytes (what fetch refuses to send) and reads the whole answer until the server closes. */
  function raw(request: string): Promise<{ status: number; headers: Record<string, string>; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const { port } = new URL(api.url);
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
      let text = '';
      socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(request.slice(0, 40))}`)));
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => {
        const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
        const [statusLine, ...lines] = head.split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> });
      });
    });
  }

  test.each([
    ['a request line over the limit', `GET /recommend/1?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'headers_too_large'],
    ['an unknown method', 'FOO /recommend/1 HTTP/1.1\r\nHost: x\r\n\r\n', 405, 'method_not_allowed'],
    ['bytes that are not HTTP', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 400, 'bad_request'],
  ])("%s is refused by Node's parser and still answered with the JSON error body", async (_label, request, status, error) => {
    const res = await raw(request);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toEqual({ error, message: expect.any(String), requestId: res.headers['x-request-id'] });
    expect(Object.keys(res.body)).toEqual(['error', 'message', 'requestId']);
    if (status === 405) expect(res.headers.allow).toBe('GET, HEAD, OPTIONS');
    // The server keeps serving afterwards.
    expect((await get('/healthz')).status).toBe(200);
  });

  test('property: no 5xx for any path and query string a client can send', async () => {
    const segment = fc.oneof(
      fc.constantFrom('recommend', 'similar', 'movies', 'healthz', 'readyz', 'openapi.json', '', '..', '%', '%zz', '%00', '%2F'),
      fc.integer().map(String),
      fc.double().map(String),
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
      fc.string({ unit: 'binary', maxLength: 8 }).map(encodeURIComponent),
    );
    const query = fc.array(
      fc.tuple(fc.constantFrom('k', 'genre', 'exclude_seen', 'x', ''), fc.oneof(fc.string({ maxLength: 10 }), fc.integer().map(String), fc.constantFrom('Comedy', 'true', '%', '0', '100', '101'))),
      { maxLength: 4 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 4 }), query, fc.constantFrom('GET', 'HEAD', 'POST', 'OPTIONS', 'DELETE'), async (segments, params, method) => {
        const qs = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
        const path = `/${segments.join('/')}${qs ? `?${qs}` : ''}`;
        const res = await fetch(`${api.url}${path}`, { method });
        await res.arrayBuffer();
        if (res.status >= 500) throw new Error(`${method} ${path} → ${res.status}`);
      }),
      { numRuns: 300, seed: 42 },
    );
    const text = await (await fetch(`${api.url}/metrics`)).text();
    expect(text).not.toMatch(/^http_request_duration_seconds_count\{.*status="5\d\d"/m);
  });
});

describe('hot swap and shutdown', () => {
  test('swapping the model file under load: zero failed requests, and the new model serves', async () => {
    const before = api.holder.current!.identity.sha256;
    const users = Array.from(bundle.users.toArray()).slice(0, 50);
    let ok = 0;
    const failures: string[] = [];
    const request = async (w: number, j: number) => {
      try {
        const res = await fetch(`${api.url}/recommend/${users[(w * 7 + j) % users.length]}?k=10`);
        const body = (await res.json()) as { items?: unknown[] };
        if (res.status === 200 && body.items?.length === 10) ok++;
        else failures.push(`${res.status}`);
      } catch (err) {
        failures.push(String(err));
      }
    };
    const shas = new Set<string>([before]);
    await underLoad(8, request, async () => {
      for (const next of ['b.nflx', 'a.nflx', 'b.nflx']) {
        await new Promise((r) => setTimeout(r, 150));
        await copyFile(dir.file(next), dir.file('serving.tmp'));
        await rename(dir.file('serving.tmp'), dir.file('serving.nflx')); // atomic replace, as a deploy would
        expect(await api.source.refresh('test')).toBe(true);
        shas.add(api.holder.current!.identity.sha256);
      }
      await new Promise((r) => setTimeout(r, 150));
    });
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect(shas.size).toBe(2);
    // Now serving b: the lists are b's.
    const userId = users[0];
    const res = await get(`/recommend/${userId}?k=5`);
    const b = openBundle(decodeModelFile(modelB.bytes));
    expect((res.body.items as { movieId: number }[]).map((i) => i.movieId)).toEqual(b.recommend({ userId, k: 5 }).items.map((i) => i.movieId));
    // A broken file keeps the current model serving.
    await dir.write('serving.nflx', Buffer.from('not a model'));
    expect(await api.source.refresh('test')).toBe(false);
    expect((await get(`/recommend/${userId}?k=5`)).status).toBe(200);
    expect(api.source.lastError).toMatch(/cannot load model file/);
    await copyFile(dir.file('a.nflx'), dir.file('serving.nflx'));
    expect(await api.source.refresh('test')).toBe(true);
    expect(api.source.lastError).toBeNull();
  });

  test('graceful shutdown: in-flight requests finish with 200, then the port closes', async () => {
    const local = await start(dir.file('a.nflx'));
    try {
      freshDelayMs = 400;
      const userId = bundle.users.id(0);
      const inFlight = Array.from({ length: 5 }, () => fetch(`${local.url}/recommend/${userId}?k=3`).then(async (r) => ({ status: r.status, body: (await r.json()) as { items: unknown[] } })));
      await new Promise((r) => setTimeout(r, 100));
      expect(local.http.inFlight).toBe(5);
      const stopping = local.stop('test');
      await new Promise((r) => setTimeout(r, 20));
      const results = await Promise.all(inFlight);
      for (const r of results) {
        expect(r.status).toBe(200);
        expect(r.body.items).toHaveLength(3);
      }
      expect(await stopping).toBe(0);
      await expect(fetch(`${local.url}/healthz`)).rejects.toThrow();
    } finally {
      freshDelayMs = 0;
    }
  });
});
