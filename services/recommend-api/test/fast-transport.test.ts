/**
 * The hot route's own HTTP/1.1 transport (src/http/fast-transport.ts) over real sockets: the same
 * bytes sent to a service with it (FAST_TRANSPORT=true) and to one without (node:http parses every
 * request) must come back byte for byte alike (the Date header and generated request ids aside),
 * whether the fast transport answers them or hands the connection to node:http. Its counts show
 * which of the two did.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createLogger } from '@netflicks/platform';
import { loadApiConfig, runRecommendApi, type FreshRatingsSource, type RunningApi } from '../src/index.js';
import { parsePlainRequest } from '../src/http/fast-request.js';
import { tempDir, trainTestModel, type TempDir } from './support.js';

const logger = createLogger({ component: 'fast-transport-test', level: 'silent' });

let dir: TempDir;
/** Fresh ratings known at once: the fast transport answers in the tick that parsed the request. */
let fastSync: RunningApi;
/** Fresh ratings read asynchronously (as from the database): answers wait, and stay in order. */
let fastAsync: RunningApi;
/** node:http parses everything: the reference. */
let viaNode: RunningApi;

const syncFresh: FreshRatingsSource = { get: async () => [], known: () => [] };
let freshDelayMs = 0;
/** Reads for higher user ids finish sooner: pipelined answers become ready out of order. */
const asyncFresh: FreshRatingsSource = {
  async get(userId) {
    await new Promise((r) => setTimeout(r, freshDelayMs > 0 ? freshDelayMs * (1 + 1 / userId) : 0));
    return [];
  },
};

async function start(fastTransport: boolean, fresh: FreshRatingsSource, env: Record<string, string> = {}): Promise<RunningApi> {
  const config = loadApiConfig({ MODEL_FILE: dir.file('m.nflx'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DRAIN_TIMEOUT_MS: '3000', FAST_TRANSPORT: String(fastTransport), ...env });
  return runRecommendApi(config, { logger, exit: () => undefined, signalSource: new EventEmitter() as never, fresh });
}

beforeAll(async () => {
  dir = await tempDir();
  const model = await trainTestModel({ seed: 7 });
  await dir.write('m.nflx', model.bytes);
  [fastSync, fastAsync, viaNode] = await Promise.all([start(true, syncFresh), start(true, asyncFresh), start(false, syncFresh)]);
});

afterAll(async () => {
  await Promise.all([fastSync, fastAsync, viaNode].map((api) => api?.stop()));
  await dir?.remove();
});

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** Bytes that differ between two runs by design: the second in Date, generated request ids. */
const normalise = (text: string): string => text.replace(/^Date: .*$/gm, 'Date: -').replace(UUID, 'uuid');

interface Exchange {
  /** Everything the server wrote, latin1. */
  text: string;
  /** Whether the server closed the connection. */
  closed: boolean;
}

/**
 * Complete responses at the start of `text` (Content-Length or chunked framed; an interim 100
 * counts); those whose index is in `bodiless` answer HEAD requests: a head alone.
 */
function countResponses(text: string, bodiless: readonly number[] = []): number {
  let n = 0;
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) return n;
    const head = text.slice(at, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const lastChunk = text.indexOf('0\r\n\r\n', end + 4);
    const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
    if (chunked && lastChunk < 0) return n;
    const next = bodiless.includes(n) ? end + 4 : chunked ? lastChunk + 5 : end + 4 + Number(length?.[1] ?? 0);
    if (next > text.length) return n;
    n++;
    at = next;
  }
}

/**
 * Sends `chunks` on one connection (each its own write, a moment apart) and reads until `responses`
 * answers came or the server closed (or `waitMs` passed).
 */
async function exchange(api: RunningApi, chunks: (string | Buffer)[], responses: number, waitMs = 3000, bodiless: readonly number[] = []): Promise<Exchange> {
  return talk(await opened(api), chunks, responses, waitMs, bodiless);
}

async function opened(api: RunningApi): Promise<Socket> {
  const socket = connect(api.port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return socket;
}

async function talk(socket: Socket, chunks: (string | Buffer)[], responses: number, waitMs: number, bodiless: readonly number[] = []): Promise<Exchange> {
  let text = '';
  let closed = false;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    const finish = (): void => {
      clearTimeout(timer);
      resolve();
    };
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (countResponses(text, bodiless) >= responses) finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', () => undefined);
  });
  for (const [i, chunk] of chunks.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, 2));
    socket.write(chunk);
  }
  await done;
  if (!closed) {
    // A close that follows the last answer at once counts too.
    await new Promise((r) => setTimeout(r, 20));
    closed = socket.destroyed || socket.readableEnded;
  }
  socket.destroy();
  return { text, closed };
}

const get = (target: string, id: string, extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: localhost\r\nx-request-id: ${id}\r\n${extra}\r\n`;
const head = (target: string, id: string): string => get(target, id).replace(/^GET /, 'HEAD ');

/**
 * Sends the same bytes to a fast-transport service and to node:http; expects the same answers
 * (`bodiless`: the indexes of those that answer HEAD).
 */
async function same(chunks: (string | Buffer)[], responses: number, api: RunningApi = fastSync, bodiless: readonly number[] = []): Promise<Exchange> {
  const [fast, node] = [await exchange(api, chunks, responses, 3000, bodiless), await exchange(viaNode, chunks, responses, 3000, bodiless)];
  expect(normalise(fast.text)).toBe(normalise(node.text));
  expect(fast.closed).toBe(node.closed);
  expect(countResponses(node.text, bodiless)).toBe(responses);
  return fast;
}

/** What the fast transport answered and handed over while `run` ran. */
async function counted(api: RunningApi, run: () => Promise<unknown>): Promise<{ answered: number; handedOver: number }> {
  const stats = api.http.fastTransport;
  if (!stats) throw new Error('the fast transport is off');
  const [a, h] = [stats.answered, stats.handedOver];
  await run();
  return { answered: stats.answered - a, handedOver: stats.handedOver - h };
}

describe('answers byte for byte as node:http does', () => {
  const cases: [string, string, number][] = [
    ['a list', `/recommend/${3}?k=7`, 200],
    ['the default k', '/recommend/5', 200],
    ['a query of several parameters, percent-encoded', '/recommend/5?k=4&exclude_seen=false&genre=%44rama', 200],
    ['a user the model does not know (popular titles)', '/recommend/999999', 200],
    ['a bad user id', '/recommend/abc', 400],
    ['a user id out of range', '/recommend/99999999999', 400],
    ['a bad k', '/recommend/5?k=0', 400],
    ['k given twice', '/recommend/5?k=1&k=2', 400],
    ['an unknown genre', '/recommend/5?genre=Polka', 400],
  ];
  test.each(cases)('%s: %s → %d, answered by the fast transport (sync and async fresh ratings)', async (_what, target, status) => {
    for (const api of [fastSync, fastAsync]) {
      const n = await counted(api, async () => {
        const { text } = await same([get(target, 'case-1')], 1, api);
        expect(text.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      });
      expect(n).toEqual({ answered: 1, handedOver: 0 });
    }
  });

  test.each(cases)('HEAD, %s: %s → %d, answered by the fast transport with the head node:http (Koa) answers, the GET answer\'s length', async (_what, target, status) => {
    const { text: getText } = await exchange(viaNode, [get(target, 'head-1')], 1);
    const getLength = /\r\ncontent-length: (\d+)\r\n/i.exec(getText)?.[1];
    for (const api of [fastSync, fastAsync]) {
      const n = await counted(api, async () => {
        const { text } = await same([head(target, 'head-1')], 1, api, [0]);
        expect(text.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
        expect(text.endsWith('\r\n\r\n')).toBe(true);
        expect(/\r\nContent-Length: (\d+)\r\n/.exec(text)?.[1]).toBe(getLength);
      });
      expect(n).toEqual({ answered: 1, handedOver: 0 });
    }
  });

  test('HEAD requests are timed under their own method, as Koa times them', async () => {
    const count = async (api: RunningApi): Promise<number> => {
      const series = (await api.metrics.registry.getSingleMetric('http_request_duration_seconds')?.get())?.values ?? [];
      const v = series.find((x) => 'metricName' in x && x.metricName === 'http_request_duration_seconds_count' && x.labels.method === 'HEAD' && x.labels.route === '/recommend/:userId' && String(x.labels.status) === '200');
      return v?.value ?? 0;
    };
    const before = [await count(fastSync), await count(viaNode)];
    await same([head('/recommend/4?k=3', 'head-m1') + head('/recommend/5', 'head-m2')], 2, fastSync, [0, 1]);
    expect([(await count(fastSync)) - before[0], (await count(viaNode)) - before[1]]).toEqual([2, 2]);
  });

  test.each(cases.filter(([, , status]) => status !== 200))('%s: %s answered as the Koa route answers it (a trailing slash takes the request there)', async (_what, target) => {
    const viaKoa = target.replace(/^(\/recommend\/[^?]*)/, '$1/');
    const koa = await exchange(viaNode, [get(viaKoa, 'koa-1')], 1);
    const fast = await exchange(fastSync, [get(target, 'koa-1')], 1);
    expect(normalise(fast.text)).toBe(normalise(koa.text));
    expect(koa.text).toContain('\r\nContent-Type: application/json; charset=utf-8\r\n');
  });

  const handedOver: [string, string, number?][] = [
    ['a trailing slash (Koa routes it)', get('/recommend/5/', 'h-1')],
    ['another letter case (Koa routes it)', get('/RECOMMEND/5', 'h-2')],
    ['a percent-encoded id', get('/recommend/%35', 'h-3')],
    ['an empty id', get('/recommend/', 'h-4')],
    ['another route', get('/healthz', 'h-5')],
    ['OPTIONS', 'OPTIONS /recommend/5 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['DELETE', 'DELETE /recommend/5 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['HTTP/1.0', 'GET /recommend/5 HTTP/1.0\r\nx-request-id: h-6\r\n\r\n'],
    ['HTTP/1.0 keep-alive', 'GET /recommend/5 HTTP/1.0\r\nConnection: keep-alive\r\nx-request-id: h-7\r\n\r\n'],
    ['Connection: close', get('/recommend/5', 'h-8', 'Connection: close\r\n')],
    ['no Host', 'GET /recommend/5 HTTP/1.1\r\nx-request-id: h-9\r\n\r\n'],
    ['two Hosts', get('/recommend/5', 'h-10', 'Host: other\r\n')],
    ['a request id given twice', get('/recommend/5', 'h-11', 'x-request-id: again\r\n')],
    ['Expect (100 Continue, then the answer)', get('/recommend/5', 'h-12', 'Expect: 100-continue\r\n'), 2],
    ['a body (Content-Length: 3)', `${get('/recommend/5', 'h-13', 'Content-Length: 3\r\n')}abc`],
    ['Transfer-Encoding and Content-Length (smuggling)', `${get('/recommend/5', 'h-14', 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n')}0\r\n\r\n`],
    ['an obs-fold line', get('/recommend/5', 'h-15', 'X-Folded: a\r\n b\r\n')],
    ['a header line ending in a bare LF', 'GET /recommend/5 HTTP/1.1\r\nHost: x\nx-request-id: h-16\r\n\r\n'],
    ['a control byte in a value', get('/recommend/5', 'h-17', 'X-Odd: a\x01b\r\n')],
    ['a space before the colon', get('/recommend/5', 'h-18', 'X-Odd : b\r\n')],
    ['a header beyond the fast transport\'s 8 KiB (under node\'s 16 KiB)', get('/recommend/5', 'h-19', `X-Big: ${'a'.repeat(10_000)}\r\n`)],
  ];
  test.each(handedOver)('%s: handed to node:http, same answer', async (_what, request, responses = 1) => {
    const n = await counted(fastSync, () => same([request], responses));
    expect(n).toEqual({ answered: 0, handedOver: 1 });
  });

  test('HEAD of another route: handed to node:http, same answer', async () => {
    const n = await counted(fastSync, () => same([head('/healthz', 'h-head')], 1, fastSync, [0]));
    expect(n).toEqual({ answered: 0, handedOver: 1 });
  });

  test('Content-Length: 0 is still a request without a body: answered here', async () => {
    const n = await counted(fastSync, () => same([get('/recommend/5', 'cl0', 'Content-Length: 0\r\n')], 1));
    expect(n).toEqual({ answered: 1, handedOver: 0 });
  });

  test('headers over node:http\'s limit: 431 from node:http, connection closed', async () => {
    const { text, closed } = await same([get('/recommend/5', 'big', `X-Big: ${'a'.repeat(20_000)}\r\n`)], 1);
    expect(text.startsWith('HTTP/1.1 431 ')).toBe(true);
    expect(closed).toBe(true);
  });

  test('a hot request then a smuggled one on the same connection: the first answered here, the rest as node:http does', async () => {
    const smuggled = `${get('/recommend/5', 's-1')}GET /recommend/6 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${get('/recommend/7', 's-3')}`;
    const n = await counted(fastSync, () => same([smuggled], 2));
    expect(n).toEqual({ answered: 1, handedOver: 1 });
  });
});

describe('credentials and rate limits', () => {
  test('API keys and a rate limit: the same answers (401, 200, 429 with Retry-After) from both transports', async () => {
    const key = 'k'.repeat(24);
    const env = { AUTH_MODE: 'api-key', API_KEYS: `client:${key}`, RATE_LIMIT_RPS: '1', RATE_LIMIT_BURST: '2' };
    const [fast, node] = await Promise.all([start(true, syncFresh, env), start(false, syncFresh, env)]);
    try {
      const requests = [
        get('/recommend/5', 'a-1'),
        get('/recommend/5', 'a-2', `x-api-key: ${key}\r\n`),
        get('/recommend/6?k=2', 'a-3', `Authorization: Bearer ${key}\r\n`),
        get('/recommend/7', 'a-4', `x-api-key: ${key}\r\n`),
      ];
      const texts: string[] = [];
      for (const api of [fast, node]) {
        const stats = api.http.fastTransport;
        const before = stats?.answered ?? 0;
        const { text } = await exchange(api, [requests.join('')], requests.length);
        texts.push(normalise(text));
        if (api === fast) expect(stats?.answered).toBe(before + requests.length);
      }
      expect(texts[0]).toBe(texts[1]);
      expect(texts[0].match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 401', 'HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 429']);
      expect(texts[0]).toContain('retry-after: ');
    } finally {
      await Promise.all([fast.stop(), node.stop()]);
    }
  });
});

describe('connections', () => {
  const hot = (i: number): string => get(`/recommend/${(i % 9) + 1}?k=${(i % 5) + 1}`, `p-${i}`);

  test('pipelined requests in one write: answered in order', async () => {
    for (const api of [fastSync, fastAsync]) {
      // The async service has the later requests' answers ready sooner than the first: order still holds.
      freshDelayMs = 30;
      const n = await counted(api, () => same([Array.from({ length: 6 }, (_, i) => hot(i)).join('')], 6, api));
      freshDelayMs = 0;
      expect(n).toEqual({ answered: 6, handedOver: 0 });
    }
  });

  test('GET, HEAD and GET pipelined in one write: answered in order, the HEAD answer without a body', async () => {
    for (const api of [fastSync, fastAsync]) {
      freshDelayMs = 30;
      const n = await counted(api, () => same([hot(1) + head('/recommend/2?k=3', 'p-head') + hot(3)], 3, api, [1]));
      freshDelayMs = 0;
      expect(n).toEqual({ answered: 3, handedOver: 0 });
    }
  });

  test('two pipelined requests split at every byte boundary: the same answers', async () => {
    const bytes = Buffer.from(hot(1) + hot(2));
    const expected = normalise((await exchange(viaNode, [bytes], 2)).text);
    expect(countResponses(expected)).toBe(2);
    const n = await counted(fastSync, async () => {
      for (let cut = 1; cut < bytes.length; cut++) {
        const got = await exchange(fastSync, [bytes.subarray(0, cut), bytes.subarray(cut)], 2);
        expect([cut, normalise(got.text)]).toEqual([cut, expected]);
      }
    });
    expect(n).toEqual({ answered: 2 * (bytes.length - 1), handedOver: 0 });
  });

  test('a hot request, then /healthz, a POST and hot requests on the same connection: handed over at /healthz', async () => {
    const post = 'POST /recommend/5 HTTP/1.1\r\nHost: x\r\nx-request-id: post\r\nContent-Length: 2\r\n\r\n{}';
    for (const chunks of [[hot(1) + get('/healthz', 'hz') + post + hot(2)], [hot(1), get('/healthz', 'hz'), post, hot(2)]]) {
      const n = await counted(fastAsync, () => same(chunks, 4, fastAsync));
      expect(n).toEqual({ answered: 1, handedOver: 1 });
    }
  });

  test('Connection: close after hot requests: answered, then closed by node:http', async () => {
    const { closed } = await same([hot(1) + hot(2) + get('/recommend/3', 'last', 'Connection: close\r\n')], 3);
    expect(closed).toBe(true);
  });

  test('a client that closes its side after pipelined requests still gets every answer', async () => {
    // (node:http itself drops answers not written when the client's end arrives: not a case to compare.)
    // The async service hands /healthz over after the client's end arrived.
    for (const [api, last] of [
      [fastSync, get('/healthz', 'end')],
      [fastAsync, hot(3)],
      [fastAsync, get('/healthz', 'end')],
    ] as const) {
      const socket = await opened(api);
      const answers = talk(socket, [], 3, 3000);
      socket.end(hot(1) + hot(2) + last);
      const { text, closed } = await answers;
      expect(countResponses(text)).toBe(3);
      expect(closed).toBe(true);
    }
  });
});

describe('timeouts and shutdown', () => {
  const withTimeouts = async (api: RunningApi, ms: number, run: () => Promise<void>): Promise<void> => {
    const s = api.http.server;
    const saved = [s.headersTimeout, s.requestTimeout, s.keepAliveTimeout];
    s.headersTimeout = ms;
    s.requestTimeout = ms;
    s.keepAliveTimeout = ms;
    try {
      await run();
    } finally {
      [s.headersTimeout, s.requestTimeout, s.keepAliveTimeout] = saved;
    }
  };

  /** `run` with 300 ms timeouts must end in a 408 and a closed connection within `withinMs`. */
  const expect408 = async (run: () => Promise<Exchange>, withinMs: number): Promise<void> => {
    await withTimeouts(fastSync, 300, async () => {
      const t0 = performance.now();
      const { text, closed } = await run();
      expect(text.startsWith('HTTP/1.1 408 ')).toBe(true);
      expect(closed).toBe(true);
      expect(performance.now() - t0).toBeLessThan(withinMs);
    });
  };

  test('a request head that never ends: 408 and closed after the headers timeout', async () => {
    await expect408(() => exchange(fastSync, ['GET /recommend/5 HTTP/1.1\r\nHost: x\r\n'], 1, 3000), 2000);
  });

  test('a head trickled a byte at a time (slowloris): 408 once the headers timeout passed, though bytes keep coming', async () => {
    await expect408(async () => {
      const head = Buffer.from(`GET /recommend/5 HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}`);
      const socket = await opened(fastSync);
      const answer = talk(socket, [], 1, 3000);
      for (const byte of head) {
        if (socket.destroyed) break;
        socket.write(Buffer.from([byte]));
        await new Promise((r) => setTimeout(r, 10));
      }
      return answer;
    }, 1500);
  });

  test('an idle keep-alive connection closes silently after the keep-alive timeout', async () => {
    await withTimeouts(fastSync, 300, async () => {
      const t0 = performance.now();
      const { text, closed } = await exchange(fastSync, [get('/recommend/5', 'idle')], 2, 3000);
      expect(countResponses(text)).toBe(1);
      expect(text).toContain('Keep-Alive: timeout=0');
      expect(closed).toBe(true);
      expect(performance.now() - t0).toBeLessThan(2000);
    });
  });

  test('shutdown drains: an answer in flight is written, idle connections close, the server stops', async () => {
    const api = await start(true, asyncFresh);
    const idle = connect(api.port, '127.0.0.1');
    const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
    idle.on('error', () => undefined);
    await talk(idle, [get('/recommend/1', 'idle')], 1, 3000).catch(() => undefined);
    freshDelayMs = 300;
    const busy = exchange(api, [get('/recommend/2', 'busy')], 1, 3000);
    await new Promise((r) => setTimeout(r, 50));
    expect(api.http.inFlight).toBe(1);
    const drained = api.http.drain(3000);
    const { text } = await busy;
    freshDelayMs = 0;
    expect(text.startsWith('HTTP/1.1 200 ')).toBe(true);
    expect(text).toContain('"requestId":"busy"');
    expect(await drained).toEqual({ drained: true, cut: 0 });
    await idleClosed;
    expect(api.http.fastTransport?.connections).toBe(0);
    await api.stop();
  });
});

describe('the strict request grammar', () => {
  test('reads the headers the route uses and refuses what it does not know', () => {
    expect(parsePlainRequest('HEAD /recommend/1 HTTP/1.1\r\nHost: a', '/recommend/')).toEqual({ method: 'HEAD', target: '/recommend/1', requestId: undefined, authorization: undefined, apiKey: undefined });
    expect(parsePlainRequest('GET /recommend/1?k=2 HTTP/1.1\r\nHost: a\r\nX-Request-Id:  r-1 \r\nAuthorization: Bearer t\r\nx-api-key: k', '/recommend/')).toEqual({
      method: 'GET',
      target: '/recommend/1?k=2',
      requestId: 'r-1',
      authorization: 'Bearer t',
      apiKey: 'k',
    });
    expect(parsePlainRequest(`GET /recommend/1 HTTP/1.1\r\nHost: a${'\r\nX: 1'.repeat(99)}`, '/recommend/')?.target).toBe('/recommend/1');
    for (const head of [
      'GET /recommend/1 HTTP/1.1',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\r\nConnection: close',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 00',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\ncontent-length: 0',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\r\nX: \x7f',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\r\n: empty name',
      'GET /recommend/1 HTTP/1.1\r\nHost: a\rX: b',
      'GET /recommend/1  HTTP/1.1\r\nHost: a',
      'GET /recommend/1 HTTP/1.10\r\nHost: a',
      'GET /recommend/"1" HTTP/1.1\r\nHost: a',
      'GET /other/1 HTTP/1.1\r\nHost: a',
      'get /recommend/1 HTTP/1.1\r\nHost: a',
      'head /recommend/1 HTTP/1.1\r\nHost: a',
      'HEADER /recommend/1 HTTP/1.1\r\nHost: a',
      'POST /recommend/1 HTTP/1.1\r\nHost: a',
      `GET /recommend/1 HTTP/1.1\r\nHost: a${'\r\nX: 1'.repeat(100)}`,
    ]) {
      expect([head, parsePlainRequest(head, '/recommend/')]).toEqual([head, null]);
    }
  });
});
