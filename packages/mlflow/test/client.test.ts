/**
 * MLflow client against a local stand-in tracking server (node:http) that implements the
 * endpoints the client uses the way MLflow 2.x does: JSON bodies, `{error_code, message}` error
 * bodies (404 RESOURCE_DOES_NOT_EXIST, 400 RESOURCE_ALREADY_EXISTS / INVALID_PARAMETER_VALUE),
 * LogBatch limits, run artifact URIs `mlflow-artifacts:/<exp>/<run>/artifacts` and the artifact
 * proxy's PUT. Every request is recorded so tests assert the exact calls and bodies. Kept for
 * what a real server cannot be made to do (races, 5xx, timeouts, refused connections) and for
 * the exact requests; what MLflow stores is asserted against the real server in
 * client-real.test.ts and services/trainer/test/mlflow-server.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MlflowError, artifactUploadUrl, budgeted, logTrainingRun, mlflowConfigFromEnv, mlflowSettingsFromEnv, sanitiseKey, type MlflowConfig, type MlflowSettings } from '@netflicks/mlflow';

interface Call {
  method: string;
  path: string; // without the server's prefix and query string
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  json?: unknown;
}

interface Reply {
  status: number;
  body: unknown;
  /** Hold the response this long (to trigger client timeouts). */
  delayMs?: number;
}

interface KV {
  key: string;
  value: string;
}
interface MetricBody {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
interface FakeRun {
  runId: string;
  experimentId: string;
  status: string;
  startTime: number;
  endTime?: number;
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: MetricBody[];
}

const err = (status: number, error_code: string, message: string): Reply => ({ status, body: { error_code, message } });
const KEY = /^[/\w.\- ]*$/; // MLflow's _VALID_PARAM_AND_METRIC_NAMES

class FakeMlflow {
  readonly calls: Call[] = [];
  readonly experiments = new Map<string, { id: string; name: string; artifactLocation: string; lifecycleStage: string }>();
  readonly runs = new Map<string, FakeRun>();
  readonly artifacts = new Map<string, Buffer>();
  /** Consulted first for every request; return a Reply to inject a fault. */
  fault: (call: Call) => Reply | undefined = () => undefined;
  /** artifact_uri for a new run; MLflow's default with --serve-artifacts. */
  artifactUri = (expId: string, runId: string): string => `mlflow-artifacts:/${expId}/${runId}/artifacts`;
  private nextExperiment = 1;
  private readonly timers = new Set<NodeJS.Timeout>();
  private server!: Server;
  url = '';

  constructor(private readonly prefix = '') {
    this.experiments.set('Default', { id: '0', name: 'Default', artifactLocation: 'mlflow-artifacts:/0', lifecycleStage: 'active' });
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.prefix}`;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** "METHOD /path" of every recorded call, in order. */
  sequence(): string[] {
    return this.calls.map((c) => `${c.method} ${c.path}`);
  }

  bodies(path: string): unknown[] {
    return this.calls.filter((c) => c.path === path).map((c) => c.json);
  }

  createExperiment(name: string, lifecycleStage = 'active'): string {
    const id = String(this.nextExperiment++);
    this.experiments.set(name, { id, name, artifactLocation: `mlflow-artifacts:/${id}`, lifecycleStage });
    return id;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    const call: Call = { method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, raw };
    if (this.prefix && url.pathname.startsWith(`${this.prefix}/`)) call.path = url.pathname.slice(this.prefix.length);
    if (req.headers['content-type'] === 'application/json' && raw.length > 0) call.json = JSON.parse(raw.toString('utf8'));
    this.calls.push(call);
    const reply = this.fault(call) ?? this.route(call, url.pathname.startsWith(`${this.prefix}/`));
    const send = (): void => {
      if (res.destroyed) return;
      res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply.body));
    };
    if (!reply.delayMs) return send();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      send();
    }, reply.delayMs);
    this.timers.add(timer);
  }

  private route(call: Call, underPrefix: boolean): Reply {
    if (!underPrefix && this.prefix) return err(404, 'ENDPOINT_NOT_FOUND', 'outside prefix');
    const body = (call.json ?? {}) as Record<string, unknown>;
    if (call.method === 'POST' && call.headers['content-type'] !== 'application/json') {
      return err(400, 'BAD_REQUEST', 'MLflow REST API requires application/json');
    }
    const artifactPrefix = '/api/2.0/mlflow-artifacts/artifacts/';
    if (call.method === 'PUT' && call.path.startsWith(artifactPrefix)) {
      const rel = decodeURIComponent(call.path.slice(artifactPrefix.length));
      if (rel.split('/').includes('..')) return err(400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
      this.artifacts.set(rel, call.raw);
      return { status: 200, body: {} };
    }
    switch (`${call.method} ${call.path}`) {
      case 'GET /api/2.0/mlflow/experiments/get-by-name': {
        const exp = this.experiments.get(call.query.experiment_name ?? '');
        if (!exp) return err(404, 'RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${call.query.experiment_name}'`);
        return { status: 200, body: { experiment: { experiment_id: exp.id, name: exp.name, artifact_location: exp.artifactLocation, lifecycle_stage: exp.lifecycleStage, last_update_time: 1, creation_time: 1 } } };
      }
      case 'POST /api/2.0/mlflow/experiments/create': {
        const name = String(body.name);
        if (this.experiments.has(name)) return err(400, 'RESOURCE_ALREADY_EXISTS', `Experiment '${name}' already exists.`);
        return { status: 200, body: { experiment_id: this.createExperiment(name) } };
      }
      case 'POST /api/2.0/mlflow/runs/create': {
        const exp = [...this.experiments.values()].find((e) => e.id === body.experiment_id);
        if (!exp || exp.lifecycleStage !== 'active') return err(400, 'INVALID_PARAMETER_VALUE', `No active experiment ${String(body.experiment_id)}`);
        const runId = randomUUID().replace(/-/g, '');
        const tags = new Map(((body.tags ?? []) as KV[]).map((t) => [t.key, t.value]));
        tags.set('mlflow.runName', String(body.run_name));
        const run: FakeRun = { runId, experimentId: exp.id, status: 'RUNNING', startTime: Number(body.start_time), params: new Map(), tags, metrics: [] };
        this.runs.set(runId, run);
        const info = { run_id: runId, run_uuid: runId, run_name: body.run_name, experiment_id: exp.id, status: 'RUNNING', start_time: run.startTime, artifact_uri: this.artifactUri(exp.id, runId), lifecycle_stage: 'active' };
        return { status: 200, body: { run: { info, data: { tags: [...tags].map(([key, value]) => ({ key, value })) }, inputs: {} } } };
      }
      case 'POST /api/2.0/mlflow/runs/log-batch': {
        const run = this.runs.get(String(body.run_id));
        if (!run) return err(404, 'RESOURCE_DOES_NOT_EXIST', `Run '${String(body.run_id)}' not found`);
        const params = (body.params ?? []) as KV[];
        const tags = (body.tags ?? []) as KV[];
        const metrics = (body.metrics ?? []) as MetricBody[];
        if (metrics.length > 1000 || params.length > 100 || tags.length > 100 || metrics.length + params.length + tags.length > 1000) {
          return err(400, 'INVALID_PARAMETER_VALUE', 'A batch logging request exceeds the limits');
        }
        for (const e of [...params, ...tags, ...metrics]) {
          if (!KEY.test(e.key) || e.key.length > 250) return err(400, 'INVALID_PARAMETER_VALUE', `Invalid key '${e.key}'`);
        }
        for (const p of params) {
          if (p.value.length > 6000) return err(400, 'INVALID_PARAMETER_VALUE', `Param value for '${p.key}' too long`);
          const prior = run.params.get(p.key);
          if (prior !== undefined && prior !== p.value) return err(400, 'INVALID_PARAMETER_VALUE', `Changing param values is not allowed. Param with key='${p.key}'`);
          run.params.set(p.key, p.value);
        }
        for (const t of tags) run.tags.set(t.key, t.value);
        run.metrics.push(...metrics);
        return { status: 200, body: {} };
      }
      case 'POST /api/2.0/mlflow/runs/update': {
        const run = this.runs.get(String(body.run_id));
        if (!run) return err(404, 'RESOURCE_DOES_NOT_EXIST', `Run '${String(body.run_id)}' not found`);
        run.status = String(body.status);
        run.endTime = Number(body.end_time);
        return { status: 200, body: { run_info: { run_id: run.runId, experiment_id: run.experimentId, status: run.status, end_time: run.endTime } } };
      }
      default:
        return err(404, 'ENDPOINT_NOT_FOUND', `No endpoint ${call.method} ${call.path}`);
    }
  }
}

const API = '/api/2.0/mlflow';
const START = Date.UTC(2025, 0, 15, 10, 0, 0);
const END = START + 95_000;
// Deterministic non-trivial "compressed model": every byte value, including 0x00 and 0xff.
const MODEL_BYTES = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));

function trainingRun(overrides: Partial<Parameters<typeof logTrainingRun>[1]> = {}): Parameters<typeof logTrainingRun>[1] {
  return {
    runName: 'als-v7',
    startTime: START,
    endTime: END,
    params: { algorithm: 'als', factors: '64', 'holdout.fraction': '0.2', data_fingerprint: 'sha256:ab12' },
    metrics: { rmse: 0.8731, 'ndcg@10': 0.4125, 'precision@10': Number.NaN, coverage: Number.POSITIVE_INFINITY },
    tags: { 'netflicks.model': 'als', 'netflicks.version': '7', 'netflicks.training_run': 'nightly-2025-01-15' },
    artifacts: [{ path: 'model/als-v7.json.gz', bytes: MODEL_BYTES, contentType: 'application/gzip' }],
    status: 'FINISHED',
    ...overrides,
  };
}

let fake: FakeMlflow;
beforeEach(async () => {
  fake = new FakeMlflow();
  await fake.start();
});
afterEach(async () => {
  await fake.stop();
});

const config = (extra: Partial<MlflowConfig> = {}): MlflowConfig => ({ trackingUri: fake.url, experimentName: 'netflicks-trainer', timeoutMs: 5_000, ...extra });

describe('logTrainingRun', () => {
  test('handles the race where another trainer creates the experiment first', async () => {
    fake.fault = (call) => {
      if (call.path === `${API}/experiments/create`) {
        fake.createExperiment('netflicks-trainer'); // the other trainer won
        return err(400, 'RESOURCE_ALREADY_EXISTS', "Experiment 'netflicks-trainer' already exists.");
      }
      return undefined;
    };
    const tracked = await logTrainingRun(config(), trainingRun({ artifacts: undefined }));

    expect(tracked.experimentId).toBe('1');
    expect(fake.sequence().slice(0, 4)).toEqual([
      `GET ${API}/experiments/get-by-name`,
      `POST ${API}/experiments/create`,
      `GET ${API}/experiments/get-by-name`,
      `POST ${API}/runs/create`,
    ]);
    expect((fake.calls[3].json as { experiment_id: string }).experiment_id).toBe('1');
  });

  test('splits 250 params into three log-batch requests of at most 100', async () => {
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${String(i).padStart(3, '0')}`, `v${i}`]));
    const tracked = await logTrainingRun(config(), trainingRun({ params, artifacts: undefined }));

    const batches = fake.bodies(`${API}/runs/log-batch`) as Array<{ run_id: string; params: KV[]; metrics: MetricBody[]; tags: KV[] }>;
    expect(batches.map((b) => [b.params.length, b.metrics.length, b.tags.length])).toEqual([
      [100, 2, 0],
      [100, 0, 0],
      [50, 0, 0],
    ]);
    expect(batches.every((b) => b.run_id === tracked.runId)).toBe(true);
    // In order, nothing lost or duplicated.
    expect(batches.flatMap((b) => b.params)).toEqual(Object.entries(params).map(([key, value]) => ({ key, value })));
    expect(fake.runs.get(tracked.runId)?.params.size).toBe(250);
  });

  test('tags beyond 100 travel with log-batch; long param values are truncated to 6000 chars', async () => {
    const tags = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`t${i}`, 'x']));
    const long = 'é'.repeat(7000);
    const tracked = await logTrainingRun(config(), trainingRun({ tags, params: { long }, metrics: {}, artifacts: undefined }));

    expect((fake.calls[2].json as { tags: KV[] }).tags).toHaveLength(100);
    const [batch] = fake.bodies(`${API}/runs/log-batch`) as Array<{ params: KV[]; tags: KV[] }>;
    expect(batch.tags.map((t) => t.key)).toEqual(Array.from({ length: 30 }, (_, i) => `t${100 + i}`));
    expect(batch.params).toEqual([{ key: 'long', value: 'é'.repeat(6000) }]);
    expect(fake.runs.get(tracked.runId)?.tags.size).toBe(131); // 130 + mlflow.runName
  });

  test('sends a bearer token, or basic auth when username and password are set', async () => {
    await logTrainingRun(config({ token: 's3cret' }), trainingRun());
    expect(fake.calls.map((c) => c.headers.authorization)).toEqual(Array(6).fill('Bearer s3cret'));

    fake.calls.length = 0;
    await logTrainingRun(config({ username: 'trainer', password: 'pa:ss', token: 'ignored' }), trainingRun({ artifacts: undefined }));
    const basic = `Basic ${Buffer.from('trainer:pa:ss').toString('base64')}`;
    expect(fake.calls.map((c) => c.headers.authorization)).toEqual(Array(4).fill(basic));
  });

  test('retries a 503 on log-batch and on runs/create, then succeeds', async () => {
    const failedOnce = new Set<string>();
    fake.fault = (call) => {
      if ((call.path.endsWith('/runs/log-batch') || call.path.endsWith('/runs/create')) && !failedOnce.has(call.path)) {
        failedOnce.add(call.path);
        return err(503, 'TEMPORARILY_UNAVAILABLE', 'try again');
      }
      return undefined;
    };
    const tracked = await logTrainingRun(config(), trainingRun({ artifacts: undefined }));

    expect(fake.sequence()).toEqual([
      `GET ${API}/experiments/get-by-name`,
      `POST ${API}/experiments/create`,
      `POST ${API}/runs/create`,
      `POST ${API}/runs/create`,
      `POST ${API}/runs/log-batch`,
      `POST ${API}/runs/log-batch`,
      `POST ${API}/runs/update`,
    ]);
    expect(fake.calls[4].json).toEqual(fake.calls[5].json); // identical retry
    expect(fake.runs.size).toBe(1);
    expect(fake.runs.get(tracked.runId)?.status).toBe('FINISHED');
  });

  test('a persistent 400 surfaces as MlflowError naming the call and error_code, and the run is marked FAILED', async () => {
    fake.fault = (call) => (call.path.endsWith('/runs/log-batch') ? err(400, 'INVALID_PARAMETER_VALUE', 'Invalid value for metric') : undefined);

    const error = await logTrainingRun(config(), trainingRun()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(MlflowError);
    const e = error as MlflowError;
    expect(e.status).toBe(400);
    expect(e.errorCode).toBe('INVALID_PARAMETER_VALUE');
    const [run] = [...fake.runs.values()];
    expect(e.message).toBe(`MLflow runs/log-batch failed: HTTP 400 INVALID_PARAMETER_VALUE: Invalid value for metric (run ${run.runId} in experiment 1)`);
    // Not retried; no artifact; best-effort FAILED.
    expect(fake.sequence().slice(2)).toEqual([`POST ${API}/runs/create`, `POST ${API}/runs/log-batch`, `POST ${API}/runs/update`]);
    expect(run.status).toBe('FAILED');
  });

  test('runs/create is not retried after a timeout or a 500 (it may have created the run)', async () => {
    fake.fault = (call) => (call.path.endsWith('/runs/create') ? { status: 200, body: {}, delayMs: 2_000 } : undefined);
    await expect(logTrainingRun(config({ timeoutMs: 200 }), trainingRun())).rejects.toThrow(
      'MLflow runs/create timed out after 200 ms (not retried: the server may have acted on it) (experiment 1)',
    );
    expect(fake.sequence().filter((s) => s.endsWith('/runs/create'))).toHaveLength(1);

    fake.calls.length = 0;
    fake.fault = (call) => (call.path.endsWith('/runs/create') ? err(500, 'INTERNAL_ERROR', 'database is locked') : undefined);
    await expect(logTrainingRun(config(), trainingRun())).rejects.toThrow('MLflow runs/create failed: HTTP 500 INTERNAL_ERROR: database is locked');
    expect(fake.sequence()).toEqual([`GET ${API}/experiments/get-by-name`, `POST ${API}/runs/create`]);
  });

  test('retries idempotent calls through timeouts and gives up after `retries`', async () => {
    let slow = 1;
    fake.fault = (call) => (call.path.endsWith('/runs/update') && slow-- > 0 ? { status: 200, body: {}, delayMs: 1_000 } : undefined);
    await logTrainingRun(config({ timeoutMs: 200 }), trainingRun({ artifacts: undefined }));
    expect(fake.sequence().filter((s) => s.endsWith('/runs/update'))).toHaveLength(2);

    fake.calls.length = 0;
    fake.fault = (call) => (call.path.endsWith('/get-by-name') ? err(502, 'BAD_GATEWAY', 'upstream down') : undefined);
    await expect(logTrainingRun(config({ retries: 2 }), trainingRun())).rejects.toMatchObject({ status: 502, message: expect.stringContaining('experiments/get-by-name failed: HTTP 502') });
    expect(fake.sequence()).toEqual(Array(3).fill(`GET ${API}/experiments/get-by-name`));
  });

  test('reports a refused connection with its code', async () => {
    const url = fake.url;
    await fake.stop();
    await expect(logTrainingRun({ trackingUri: url, experimentName: 'e', retries: 1 }, trainingRun())).rejects.toThrow(
      'MLflow experiments/get-by-name network error: ECONNREFUSED (experiment "e")',
    );
    await fake.start(); // for afterEach
  });

  test('refuses a deleted experiment', async () => {
    fake.createExperiment('netflicks-trainer', 'deleted');
    await expect(logTrainingRun(config(), trainingRun())).rejects.toThrow(/experiment "netflicks-trainer" \(id 1\) is deleted/);
    expect(fake.sequence()).toEqual([`GET ${API}/experiments/get-by-name`]);
  });

  test('validates keys and the artifact path before any request', async () => {
    await expect(logTrainingRun(config(), trainingRun({ metrics: { 'ndcg@10': 1, ndcg_at_10: 2 } }))).rejects.toThrow(
      'metric keys "ndcg@10" and "ndcg_at_10" both map to MLflow key "ndcg_at_10"',
    );
    await expect(logTrainingRun(config(), trainingRun({ artifacts: [{ path: '../escape.gz', bytes: MODEL_BYTES }] }))).rejects.toThrow(/artifact path "..\/escape.gz"/);
    await expect(logTrainingRun(config(), trainingRun({ params: { '/abs': 'x' } }))).rejects.toThrow(MlflowError);
    expect(fake.calls).toEqual([]);
  });

  test('honours a tracking URI path prefix for API and artifact calls', async () => {
    const prefixed = new FakeMlflow('/mlflow');
    await prefixed.start();
    try {
      const tracked = await logTrainingRun({ trackingUri: `${prefixed.url}/`, experimentName: 'e' }, trainingRun());
      expect(prefixed.calls.map((c) => c.path)).toEqual([
        `${API}/experiments/get-by-name`,
        `${API}/experiments/create`,
        `${API}/runs/create`,
        `${API}/runs/log-batch`,
        `/api/2.0/mlflow-artifacts/artifacts/1/${tracked.runId}/artifacts/model/als-v7.json.gz`,
        `${API}/runs/update`,
      ]);
      expect(prefixed.artifacts.get(`1/${tracked.runId}/artifacts/model/als-v7.json.gz`)?.equals(MODEL_BYTES)).toBe(true);
    } finally {
      await prefixed.stop();
    }
  });

  test('falls back to the proxy default layout when the run artifact_uri is not mlflow-artifacts:', async () => {
    fake.artifactUri = (expId, runId) => `s3://bucket/mlruns/${expId}/${runId}/artifacts`;
    const tracked = await logTrainingRun(config(), trainingRun({ artifacts: [{ path: 'model.bin', bytes: Buffer.from([0, 1, 2, 255]) }] }));
    expect(tracked.artifactUri).toBe(`s3://bucket/mlruns/1/${tracked.runId}/artifacts`);
    expect(fake.artifacts.get(`1/${tracked.runId}/artifacts/model.bin`)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(fake.calls[4].headers['content-type']).toBe('application/octet-stream');
  });
});

describe('artifactUploadUrl', () => {
  test('follows MLflow resolve_uri: artifact-URI host wins, tracking scheme and path prefix kept, segments encoded', () => {
    expect(artifactUploadUrl('https://mlflow.example.com', 'mlflow-artifacts:/3/abc/artifacts', '3', 'abc', 'm/a b.gz')).toBe(
      'https://mlflow.example.com/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/m/a%20b.gz',
    );
    expect(artifactUploadUrl('http://tracking:5000/ml/', 'mlflow-artifacts://artifacts:8080/3/abc/artifacts', '3', 'abc', 'x')).toBe(
      'http://artifacts:8080/ml/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/x',
    );
    expect(artifactUploadUrl('http://tracking:5000', undefined, '3', 'abc', 'x')).toBe('http://tracking:5000/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/x');
  });
});

describe('sanitiseKey', () => {
  test.each([
    ['ndcg@10', 'ndcg_at_10'],
    ['recall@k=20', 'recall_at_k_20'],
    ['holdout.fraction', 'holdout.fraction'],
    ['eval/rmse test-set', 'eval/rmse test-set'],
  ])('%s → %s', (input, expected) => {
    expect(sanitiseKey(input)).toBe(expected);
  });

  test.each(['', 'a//b', '/a', 'a/', 'a/../b'])('rejects %j', (input) => {
    expect(() => sanitiseKey(input)).toThrow(MlflowError);
  });

  test('accepts 250 characters, rejects 251', () => {
    expect(sanitiseKey('k'.repeat(250))).toBe('k'.repeat(250));
    expect(() => sanitiseKey('k'.repeat(251))).toThrow(MlflowError);
  });
});

describe('mlflowConfigFromEnv', () => {
  const defaults = { experimentName: 'netflicks' };

  test('null when MLFLOW_TRACKING_URI is unset or blank', () => {
    expect(mlflowConfigFromEnv({}, defaults)).toBeNull();
    expect(mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: '  ' }, defaults)).toBeNull();
  });

  test('reads the MLflow variables', () => {
    expect(mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000' }, defaults)).toEqual({ trackingUri: 'http://mlflow:5000', experimentName: 'netflicks' });
    expect(
      mlflowConfigFromEnv(
        {
          MLFLOW_TRACKING_URI: 'https://mlflow.example.com/prefix',
          MLFLOW_EXPERIMENT_NAME: 'recs-prod',
          MLFLOW_TRACKING_TOKEN: 'tok',
          MLFLOW_TRACKING_USERNAME: 'u',
          MLFLOW_TRACKING_PASSWORD: 'p',
          MLFLOW_HTTP_REQUEST_TIMEOUT: '2.5',
          MLFLOW_HTTP_REQUEST_MAX_RETRIES: '5',
        },
        defaults,
      ),
    ).toEqual({ trackingUri: 'https://mlflow.example.com/prefix', experimentName: 'recs-prod', token: 'tok', username: 'u', password: 'p', timeoutMs: 2500, retries: 5 });
  });

  test.each([
    ['databricks', /is not a URL/],
    ['./mlruns', /is not a URL/],
    ['file:///tmp/mlruns', /must use http or https, not "file:"/],
    ['ftp://mlflow:21', /must use http or https/],
    ['http://user:pw@mlflow:5000', /must not embed credentials/],
    ['http://mlflow:5000/?x=1', /query string or fragment/],
  ])('rejects MLFLOW_TRACKING_URI=%s', (uri, message) => {
    expect(() => mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: uri }, defaults)).toThrow(message);
  });

  test('rejects half-configured basic auth and bad numbers', () => {
    expect(() => mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_TRACKING_USERNAME: 'u' }, defaults)).toThrow('must be set together');
    expect(() => mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_HTTP_REQUEST_MAX_RETRIES: '-1' }, defaults)).toThrow('MLFLOW_HTTP_REQUEST_MAX_RETRIES');
    expect(() => mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_HTTP_REQUEST_TIMEOUT: 'soon' }, defaults)).toThrow('MLFLOW_HTTP_REQUEST_TIMEOUT');
  });
});

describe('budgeted: the budget of one lifecycle change', () => {
  const settings = (env: NodeJS.ProcessEnv) => mlflowSettingsFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000', ...env });

  test('the operation’s default, per-request timeouts no longer than it', () => {
    expect(budgeted(settings({}) as MlflowSettings, 10_000)('m')).toMatchObject({ budgetMs: 10_000, timeoutMs: 10_000 });
    expect(budgeted(settings({ MLFLOW_HTTP_REQUEST_TIMEOUT: '2' }) as MlflowSettings, 10_000)('m')).toMatchObject({ budgetMs: 10_000, timeoutMs: 2000 });
  });

  test('NETFLICKS_MLFLOW_BUDGET_SECONDS wins, shorter or longer', () => {
    expect(budgeted(settings({ NETFLICKS_MLFLOW_BUDGET_SECONDS: '3' }) as MlflowSettings, 10_000)('m')).toMatchObject({ budgetMs: 3000, timeoutMs: 3000 });
    expect(budgeted(settings({ NETFLICKS_MLFLOW_BUDGET_SECONDS: '60', MLFLOW_HTTP_REQUEST_TIMEOUT: '15' }) as MlflowSettings, 10_000)('m')).toMatchObject({ budgetMs: 60_000, timeoutMs: 15_000 });
  });
});
