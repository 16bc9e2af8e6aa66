/**
 * schemathesis (property-based testing from the published OpenAPI document, every check) against
 * the real server with authentication and the rate limit on: a bounded run must find nothing —
 * no 5xx, no response off the document, no schema-valid request refused, no schema-violating one
 * accepted, no request without credentials let through. Needs `scripts/schemathesis.sh install`
 * (PyPI, cached); without it the suite skips, under CI it fails.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { EventEmitter } from 'node:events';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@netflicks/platform';
import { skipOrFail } from '../../../test/support/skip.js';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { tempDir, trainTestModel, type TempDir } from './support.js';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../scripts/schemathesis.sh');
const KEY = 'st_9c1e5a7b3d2f4e6a8b0c';
const logger = createLogger({ component: 'recommend-api-schemathesis-test', level: 'silent' });

function script(args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(SCRIPT, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: process.env }, (error, stdout, stderr) =>
      done({ code: error ? Number((error as NodeJS.ErrnoException).code ?? 1) || 1 : 0, output: `${stdout}${stderr}` }),
    );
  });
}

async function installed(): Promise<boolean> {
  const bin = (await script(['path'], 10_000)).output.trim();
  return access(bin, constants.X_OK).then(
    () => true,
    () => false,
  );
}

const available = await installed();
if (!available) {
  skipOrFail({
    suite: 'schemathesis against the real server',
    needs: 'schemathesis',
    enable: 'scripts/schemathesis.sh install',
    reason: 'schemathesis is not installed in the cache',
  });
}
const describeSchemathesis = available ? describe : describe.skip;

describeSchemathesis('schemathesis against the real server (authentication and rate limit on)', () => {
  let dir: TempDir;
  let api: RunningApi;

  beforeAll(async () => {
    dir = await tempDir();
    const path = await dir.write('m.nflx', (await trainTestModel({ seed: 5 })).bytes);
    const config = loadApiConfig({
      MODEL_FILE: path,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      AUTH_MODE: 'api-key',
      API_KEYS: `schemathesis:${KEY}`,
      RATE_LIMIT_RPS: '100000',
    });
    api = await runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
  });

  afterAll(async () => {
    await api?.stop();
    await dir?.remove();
  });

  test('every check passes and no request is answered 5xx', async () => {
    const { code, output } = await script(['run', api.url, '-H', `Authorization: Bearer ${KEY}`], 240_000);
    const summary = output.split('\n').slice(-40).join('\n');
    expect({ code, summary }).toEqual({ code: 0, summary: expect.stringMatching(/No issues found/) });
    const metrics = await (await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    expect(metrics).toMatch(/^http_request_duration_seconds_count\{[^}]*status="200"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^http_request_duration_seconds_count\{[^}]*status="401"[^}]*\} [1-9]/m); // ignored_auth ran
    expect(metrics).not.toMatch(/^http_request_duration_seconds_count\{[^}]*status="5\d\d"/m);
  }, 300_000);
});
