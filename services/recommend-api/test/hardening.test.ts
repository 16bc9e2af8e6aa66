/**
 * The API in front of real users, against the real server: optional authentication (API keys,
 * JWTs against a key set from a file or a URL), the per-client rate limit, the connection cap,
 * /metrics on its own port, the genre enum of the OpenAPI document and pipelined requests
 * followed by bytes that are not HTTP.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { ConfigError, createLogger, listenOn } from '@netflicks/platform';
import { decodeModelFile, openBundle, type LoadedBundle } from '@netflicks/recsys';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { sha256 } from '../src/http/api-keys.js';
import { tempDir, trainTestModel, type TempDir } from './support.js';

const logger = createLogger({ component: 'recommend-api-hardening-test', level: 'silent' });
const KEY_A = 'ka_4f9d2c7e1b8a6f3d5e0c9b7a';
const KEY_B = 'kb_0a1b2c3d4e5f60718293a4b5';
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'netflicks-api';

let dir: TempDir;
let bundle: LoadedBundle;
let signingKey: CryptoKey;
let otherKey: CryptoKey;
let jwks: { keys: JWK[] };
const running: RunningApi[] = [];

async function start(env: Record<string, string>): Promise<RunningApi> {
  const config = loadApiConfig({ MODEL_FILE: dir.file('m.nflx'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  const api = await runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
  running.push(api);
  return api;
}

async function token(claims: Record<string, unknown>, opts: { key?: CryptoKey; kid?: string; expiresIn?: string; issuer?: string; audience?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? 'k1' })
    .setIssuer(opts.issuer ?? ISSUER)
    .setAudience(opts.audience ?? AUDIENCE)
    .setSubject('user-7')
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m')
    .sign(opts.key ?? signingKey);
}

async function call(api: RunningApi, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${api.url}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text }, headers: res.headers };
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

beforeAll(async () => {
  dir = await tempDir();
  const model = await trainTestModel({ seed: 11 });
  await dir.write('m.nflx', model.bytes);
  bundle = openBundle(decodeModelFile(model.bytes));
  const pair = await generateKeyPair('ES256', { extractable: true });
  signingKey = pair.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
  await dir.write('jwks.json', Buffer.from(JSON.stringify(jwks)));
  await dir.write('keys', Buffer.from(`# clients\nclient-a:${KEY_A}\nclient-b:sha256:${sha256(KEY_B).toString('hex')}\n`));
});

afterAll(async () => {
  for (const api of running) await api.stop();
  await dir?.remove();
});

describe('authentication', () => {
  test('off by default: every route answers without credentials', async () => {
    const api = await start({});
    expect((await call(api, `/recommend/${bundle.users.id(0)}`)).status).toBe(200);
    expect((await call(api, '/metrics')).status).toBe(200);
  });

  test('API keys from a file (plain and sha256 entries) and from env; probes exempt; 401 with WWW-Authenticate and the JSON error body', async () => {
    const api = await start({ AUTH_MODE: 'api-key', API_KEYS_FILE: dir.file('keys'), API_KEYS: `client-c:${'c'.repeat(24)}` });
    const path = `/recommend/${bundle.users.id(1)}?k=3`;
    for (const headers of <Record<string, string>[]>[{ authorization: `Bearer ${KEY_A}` }, { authorization: `bearer ${KEY_B}` }, { 'x-api-key': KEY_A }, { authorization: `Bearer ${'c'.repeat(24)}` }]) {
      expect({ headers, status: (await call(api, path, headers)).status }).toEqual({ headers, status: 200 });
    }
    const missing = await call(api, path);
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ error: 'unauthorized', message: expect.stringMatching(/credentials are required/), requestId: expect.any(String) });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="netflicks", ApiKey realm="netflicks"');
    for (const headers of <Record<string, string>[]>[{ authorization: `Bearer ${KEY_A}x` }, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, { 'x-api-key': `sha256:${sha256(KEY_B).toString('hex')}` }]) {
      const res = await call(api, path, headers);
      expect({ headers, status: res.status, error: res.body.error }).toEqual({ headers, status: 401, error: 'unauthorized' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="netflicks", error="invalid_token", error_description="[^"]+"$/);
    }
    for (const probe of ['/healthz', '/readyz']) expect((await call(api, probe)).status).toBe(200);
    expect((await call(api, '/no-such-route')).status).toBe(401);
    expect((await call(api, '/no-such-route', { 'x-api-key': KEY_A })).status).toBe(404);
    expect((await call(api, '/metrics')).status).toBe(401);
    expect((await call(api, '/openapi.json', { 'x-api-key': KEY_A })).body.components).toMatchObject({ securitySchemes: { apiKeyBearer: { type: 'http', scheme: 'bearer' } } });
    const text = await (await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${KEY_A}` } })).text();
    expect(text).toMatch(/^http_auth_failures_total\{[^}]*reason="missing"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^http_auth_failures_total\{[^}]*reason="invalid"[^}]*\} [3-9]/m);
  });

  test('the console: its page is public, its data endpoints need the same credentials as the API', async () => {
    const api = await start({ AUTH_MODE: 'api-key', API_KEYS: `a:${KEY_A}` });
    expect((await fetch(`${api.url}/console`)).status).toBe(200);
    const path = `/console/api/users/${bundle.users.id(1)}/recommendations?k=3`;
    const missing = await call(api, path);
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ error: 'unauthorized', message: expect.stringMatching(/credentials are required/), requestId: expect.any(String) });
    expect((await call(api, path, { 'x-api-key': KEY_A })).status).toBe(200);
  });

  test('JWTs against a key set file: issuer, audience, expiry, signature and scope checked; 403 without the scope', async () => {
    const api = await start({ AUTH_MODE: 'jwt', JWT_JWKS_FILE: dir.file('jwks.json'), JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_REQUIRED_SCOPE: 'recommend:read' });
    const path = `/similar/${bundle.items.id(0)}?k=2`;
    const ok = await call(api, path, { authorization: `Bearer ${await token({ scope: 'profile recommend:read' })}` });
    expect(ok.status).toBe(200);
    expect((await call(api, path, { authorization: `Bearer ${await token({ scp: ['recommend:read'] })}` })).status).toBe(200);
    const refused: [string, string, RegExp][] = [
      ['expired', await token({ scope: 'recommend:read' }, { expiresIn: '-5m' }), /expired/],
      ['another issuer', await token({ scope: 'recommend:read' }, { issuer: 'https://evil.test' }), /iss/],
      ['another audience', await token({ scope: 'recommend:read' }, { audience: 'other' }), /aud/],
      ['an unknown key', await token({ scope: 'recommend:read' }, { key: otherKey }), /signature|known key/],
      ['an unknown kid', await token({ scope: 'recommend:read' }, { kid: 'k9' }), /known key/],
      [
        'an HMAC-signed token',
        await new SignJWT({ scope: 'recommend:read' }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('x').setExpirationTime('5m').sign(new TextEncoder().encode('s'.repeat(32))),
        /algorithm|known key/,
      ],
      ['an unsigned token', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(`{"sub":"x","iss":"${ISSUER}","aud":"${AUDIENCE}"}`).toString('base64url')}.x`, /.+/],
    ];
    for (const [label, jwt, message] of refused) {
      const res = await call(api, path, { authorization: `Bearer ${jwt}` });
      expect({ label, status: res.status, error: res.body.error }).toEqual({ label, status: 401, error: 'unauthorized' });
      expect(res.body.message).toMatch(message);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
    const noScope = await call(api, path, { authorization: `Bearer ${await token({ scope: 'profile' })}` });
    expect(noScope.status).toBe(403);
    expect(noScope.body).toEqual({ error: 'forbidden', message: 'the token lacks the scope recommend:read', requestId: expect.any(String) });
    expect(noScope.headers.get('www-authenticate')).toBe(
      'Bearer realm="netflicks", error="insufficient_scope", error_description="the token lacks the scope recommend:read", scope="recommend:read"',
    );
  });

  test('JWTs against a key set URL; an unreachable key set is a 503, not a 401', async () => {
    let served = 0;
    const issuer: Server = createServer((_req, res) => {
      served++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(jwks));
    });
    const { url } = await listenOn(issuer, { port: 0, host: '127.0.0.1' });
    try {
      const api = await start({ AUTH_MODE: 'api-key,jwt', API_KEYS: `ops:${KEY_A}`, JWT_JWKS_URL: `${url}/jwks.json`, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
      expect((await call(api, '/healthz')).status).toBe(200);
      expect((await call(api, `/movies/${bundle.items.id(1)}`, { authorization: `Bearer ${await token({})}` })).status).toBe(200);
      expect((await call(api, `/movies/${bundle.items.id(1)}`, { authorization: `Bearer ${KEY_A}` })).status).toBe(200);
      expect(served).toBe(1);
      await new Promise<void>((r) => issuer.close(() => r()));
      issuer.closeAllConnections();
      const down = await start({ AUTH_MODE: 'jwt', JWT_JWKS_URL: `${url}/jwks.json`, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
      const res = await call(down, `/movies/${bundle.items.id(1)}`, { authorization: `Bearer ${await token({})}` });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('unavailable');
      expect(res.headers.get('retry-after')).toBe('5');
    } finally {
      if (issuer.listening) issuer.close();
    }
  });

  test('configuration is checked at start-up with errors naming the variable, never the key', async () => {
    const bad = (env: Record<string, string>) => () => loadApiConfig({ MODEL_FILE: 'm.nflx', ...env });
    expect(bad({ AUTH_MODE: 'api-key' })).toThrow(/API_KEYS: AUTH_MODE accepts api-key: set API_KEYS or API_KEYS_FILE/);
    expect(bad({ AUTH_MODE: 'jwt' })).toThrow(/JWT_JWKS_URL: .*exactly one[\s\S]*JWT_ISSUER: [\s\S]*JWT_AUDIENCE: /);
    expect(bad({ AUTH_MODE: 'password' })).toThrow(/AUTH_MODE: expected off, api-key, jwt or api-key,jwt/);
    expect(bad({ AUTH_MODE: 'off,jwt' })).toThrow(/AUTH_MODE: off cannot be combined/);
    await expect(start({ AUTH_MODE: 'api-key', API_KEYS: 'short:abc,x:sha256:12,dup:aaaaaaaaaaaaaaaaaaaa,dup:bbbbbbbbbbbbbbbbbbbbbb' })).rejects.toThrow(
      /API_KEYS: entry 1 \(short\): a key is 16-512 printable characters without spaces; entry 2 \(x\): a sha256: digest is 64 hex digits; entry 4: the name dup is used twice/,
    );
    await expect(start({ AUTH_MODE: 'api-key', API_KEYS_FILE: dir.file('missing') })).rejects.toThrow(ConfigError);
    await expect(start({ AUTH_MODE: 'jwt', JWT_JWKS_FILE: dir.file('keys'), JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE })).rejects.toThrow(/JWT_JWKS_FILE: expected a JSON Web Key Set/);
    await expect(start({ AUTH_MODE: 'api-key', API_KEYS: 'short:abc' })).rejects.not.toThrow(/abc/);
  });
});

describe('rate limit and connection cap', () => {
  test('per client: a burst, then 429 with Retry-After; another client is not affected; probes are not limited', async () => {
    const api = await start({ AUTH_MODE: 'api-key', API_KEYS: `a:${KEY_A},b:${KEY_B}`, RATE_LIMIT_RPS: '1', RATE_LIMIT_BURST: '3' });
    const path = `/recommend/${bundle.users.id(2)}?k=2`;
    const statuses: number[] = [];
    for (let j = 0; j < 5; j++) statuses.push((await call(api, path, { 'x-api-key': KEY_A })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await call(api, path, { 'x-api-key': KEY_A });
    expect(limited.body).toEqual({ error: 'rate_limited', message: expect.stringMatching(/too many requests/), requestId: expect.any(String) });
    expect(limited.headers.get('retry-after')).toBe('1');
    expect((await call(api, path, { 'x-api-key': KEY_B })).status).toBe(200);
    for (let j = 0; j < 5; j++) expect((await call(api, '/readyz')).status).toBe(200);
    // Anonymous failures are charged to the address: guessing keys is limited too.
    const guesses: number[] = [];
    for (let j = 0; j < 5; j++) guesses.push((await call(api, path, { 'x-api-key': `wrong-${j}-${'x'.repeat(16)}` })).status);
    expect(guesses).toEqual([401, 401, 401, 429, 429]);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(api, path, { 'x-api-key': KEY_A })).status).toBe(200);
    const text = await (await fetch(`${api.url}/metrics`, { headers: { 'x-api-key': KEY_B } })).text();
    expect(text).toMatch(/^http_rate_limited_total\{[^}]*\} 5$/m);
    expect(text).toMatch(/^http_rate_limit_clients\{[^}]*\} 3$/m);
  });

  test('connections beyond MAX_CONNECTIONS are closed at once and counted; the others keep being served', async () => {
    const api = await start({ MAX_CONNECTIONS: '3' });
    const { port } = new URL(api.url);
    const open = async (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = connect(Number(port), '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      });
    const held = [await open(), await open(), await open()];
    const closedAtOnce = await new Promise<boolean>((resolve) => {
      const extra = connect(Number(port), '127.0.0.1');
      extra.on('error', () => undefined);
      const timer = setTimeout(() => resolve(false), 2000);
      extra.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    expect(closedAtOnce).toBe(true);
    const text = await (async () => {
      held[0].destroy();
      await new Promise((r) => setTimeout(r, 100));
      return metricsText(api.url);
    })();
    expect(text).toMatch(/^http_dropped_connections_total\{[^}]*\} 1$/m);
    expect(text).toMatch(/^http_open_connections\{[^}]*\} 3$/m); // two held + the scrape's own
    for (const s of held) s.destroy();
  });

  test('METRICS_PORT: /metrics there without credentials, not on the API port', async () => {
    const api = await start({ AUTH_MODE: 'api-key', API_KEYS: `a:${KEY_A}`, METRICS_PORT: '0' });
    expect(api.metricsUrl).toBeDefined();
    const res = await fetch(`${api.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^http_auth_failures_total|^# HELP http_auth_failures_total/m);
    expect((await call(api, '/metrics', { 'x-api-key': KEY_A })).status).toBe(404);
    const doc = (await call(api, '/openapi.json', { 'x-api-key': KEY_A })).body;
    expect(Object.keys(doc.paths as object)).not.toContain('/metrics');
  });
});

describe('OpenAPI and the wire', () => {
  test("the genre parameter is an enum of the served model's genres, and each of them is accepted", async () => {
    const api = await start({});
    const doc = (await call(api, '/openapi.json')).body as { paths: Record<string, { get: { parameters: { name: string; schema: { enum?: string[] } }[] } }> };
    const genre = doc.paths['/recommend/{userId}'].get.parameters.find((p) => p.name === 'genre');
    const genres = [...(genre?.schema.enum ?? [])];
    expect(genres.length).toBeGreaterThan(3);
    expect(genres.sort()).toEqual(openBundleGenres().sort());
    for (const g of genres) expect({ g, status: (await call(api, `/recommend/1?genre=${encodeURIComponent(g)}`)).status }).toEqual({ g, status: 200 });
  });

  test('a valid request followed by garbage on the same connection: the 200s come first, then the 400, then the close', async () => {
    const api = await start({});
    const { port } = new URL(api.url);
    const pipeline = (bytes: string): Promise<string> =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
        let out = '';
        socket.setTimeout(10_000, () => socket.destroy(new Error('no close')));
        socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
        socket.on('error', reject);
        socket.on('close', () => resolve(out));
      });
    const userId = bundle.users.id(3);
    const valid = `GET /recommend/${userId}?k=2 HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
    const text = await pipeline(`${valid}\x16\x03\x01garbage\r\n\r\n`);
    expect([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])).toEqual(['200', '200', '400']);
    expect(text.split('\r\n\r\n')[1]).toContain(`"userId":${userId}`);
    expect(text.slice(text.lastIndexOf('\r\n\r\n') + 4)).toMatch(/^\{"error":"bad_request","message":"not an HTTP\/1.1 request","requestId":"[^"]+"\}$/);
    // An unknown method after valid requests is named as that method, not the first request's.
    const method = await pipeline(`${valid}FOO /x HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect([...method.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])).toEqual(['200', '200', '405']);
    expect(method).toContain('"message":"method FOO is not allowed; use GET"');
  });
});

function openBundleGenres(): string[] {
  const names = new Set<string>();
  for (const id of bundle.items.toArray()) for (const g of bundle.movie(id)?.genres ?? []) names.add(g);
  return [...names];
}
