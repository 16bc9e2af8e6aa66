/**
 * MLflow tracking client over the REST API that MLflow 2.x and 3.x servers share (global fetch,
 * no dependencies). The trainer records one MLflow run per training run: experiment
 * get-or-create, runs/create, runs/log-batch (chunked to the documented request limits; metric
 * series carry their steps), runs/log-inputs (the dataset), artifact uploads through the tracking
 * server's artifact proxy (`mlflow server --serve-artifacts`) and runs/update with the final
 * status. Every operation has a time budget, so a slow server delays training by at most that.
 */
import { Buffer } from 'node:buffer';

export interface MlflowConfig {
  /** http(s) URL of the tracking server, optionally with a path prefix (http://host/mlflow). */
  trackingUri: string;
  experimentName: string;
  /** Sent as `Authorization: Bearer …` (ignored when username and password are both set, as MLflow does). */
  token?: string;
  username?: string;
  password?: string;
  /** Per HTTP request (artifact uploads get the operation's remaining budget). Default 15 000. */
  timeoutMs?: number;
  /** Extra attempts after the first for retryable failures. Default 3. */
  retries?: number;
  /** Wall-clock budget of one operation (a run's logging, a registry mirror pass). Default 120 000. */
  budgetMs?: number;
}

export class MlflowError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly errorCode?: string,
  ) {
    super(message);
    this.name = 'MlflowError';
  }
}

export interface TrackedRun {
  experimentId: string;
  runId: string;
  artifactUri?: string;
}

export interface TrainingRunRecord {
  /** e.g. "<model>-v<version>" or the TrainingRun name. */
  runName: string;
  /** Epoch milliseconds. */
  startTime: number;
  endTime: number;
  params: Record<string, string>;
  /** Keys are sanitised ('@' → '_at_'); NaN and ±Infinity are skipped (JSON cannot carry them). */
  metrics: Record<string, number>;
  tags: Record<string, string>;
  /** Metric series by key (sanitised like metrics): value i is logged at step i + 1. */
  metricSeries?: Record<string, number[]>;
  /** Uploaded under the run's artifact root at each `path` (relative, '/'-separated). */
  artifacts?: RunArtifact[];
  /** Datasets the run used (runs/log-inputs). */
  inputs?: DatasetInput[];
  status: 'FINISHED' | 'FAILED';
}

export interface RunArtifact {
  path: string;
  bytes: Buffer;
  contentType?: string;
}

/** MLflow's Dataset entity; `source` and `profile` are JSON strings, `digest` at most 36 characters. */
export interface DatasetInput {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  schema?: string;
  profile?: string;
  /** The `mlflow.data.context` input tag, e.g. "training". */
  context?: string;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_BUDGET_MS = 120_000;
const DEFAULT_RETRIES = 3;
const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 10_000;

// LogBatch request limits (MLflow REST docs): ≤ 1000 metrics, ≤ 100 params, ≤ 100 tags,
// ≤ 1000 entities in total and ≤ 1 MB of JSON per request.
const MAX_METRICS_PER_BATCH = 1000;
const MAX_PARAMS_PER_BATCH = 100;
const MAX_TAGS_PER_BATCH = 100;
const MAX_ENTITIES_PER_BATCH = 1000;
const MAX_BATCH_BYTES = 900_000; // headroom under 1 MB for run_id and the JSON envelope
// Entity size limits (MLflow 2.x server validation). Tag values: 5000 is the size every
// backend is documented to support; newer servers accept more.
const MAX_KEY_LENGTH = 250;
const MAX_PARAM_VALUE_LENGTH = 6000;
const MAX_TAG_VALUE_LENGTH = 5000;

/**
 * Tracking config from the environment MLflow's own clients read. Returns null when
 * MLFLOW_TRACKING_URI is unset or blank (tracking disabled). Throws on a URI this client
 * cannot use, or on half-configured basic auth.
 */
export function mlflowConfigFromEnv(env: NodeJS.ProcessEnv, defaults: { experimentName: string }): MlflowConfig | null {
  const trackingUri = env.MLFLOW_TRACKING_URI?.trim();
  if (!trackingUri) return null;
  normaliseTrackingUri(trackingUri, 'MLFLOW_TRACKING_URI'); // validate early, at startup
  const experimentName = env.MLFLOW_EXPERIMENT_NAME?.trim() || defaults.experimentName;
  if (!experimentName) throw new Error('MLFLOW_EXPERIMENT_NAME is empty and no default experiment name was given');
  const token = env.MLFLOW_TRACKING_TOKEN || undefined;
  const username = env.MLFLOW_TRACKING_USERNAME || undefined;
  const password = env.MLFLOW_TRACKING_PASSWORD || undefined;
  if ((username === undefined) !== (password === undefined)) {
    throw new Error('MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD must be set together');
  }
  const cfg: MlflowConfig = { trackingUri, experimentName };
  if (token !== undefined) cfg.token = token;
  if (username !== undefined && password !== undefined) Object.assign(cfg, { username, password });
  // Same variables (and units) as MLflow's Python client, so one deployment config serves both.
  const timeoutS = optionalNumber(env, 'MLFLOW_HTTP_REQUEST_TIMEOUT', (n) => n > 0);
  if (timeoutS !== undefined) cfg.timeoutMs = Math.round(timeoutS * 1000);
  const retries = optionalNumber(env, 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', (n) => Number.isInteger(n) && n >= 0);
  if (retries !== undefined) cfg.retries = retries;
  const budgetS = optionalNumber(env, 'NETFLICKS_MLFLOW_BUDGET_SECONDS', (n) => n > 0);
  if (budgetS !== undefined) cfg.budgetMs = Math.round(budgetS * 1000);
  return cfg;
}

function optionalNumber(env: NodeJS.ProcessEnv, name: string, valid: (n: number) => boolean): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || !valid(n)) throw new Error(`${name} must be a valid number, got ${JSON.stringify(raw)}`);
  return n;
}

/** Validated tracking URL without a trailing slash, e.g. "https://mlflow.example.com/prefix". */
function normaliseTrackingUri(uri: string, what = 'MLflow trackingUri'): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`${what} ${JSON.stringify(uri)} is not a URL; expected http(s)://host[:port][/prefix]`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    // "databricks", "file:" and local paths are valid for MLflow's Python client but need
    // machinery this REST client does not have.
    throw new Error(`${what} ${JSON.stringify(uri)} must use http or https, not ${JSON.stringify(url.protocol)}`);
  }
  if (url.username || url.password) {
    // fetch refuses URLs with embedded credentials, and they would end up in logs.
    throw new Error(`${what} must not embed credentials; use MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN`);
  }
  if (url.search || url.hash) throw new Error(`${what} ${JSON.stringify(uri)} must not have a query string or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

const ARTIFACTS_API = '/api/2.0/mlflow-artifacts/artifacts';

/**
 * URL the artifact proxy accepts a PUT on for `artifactPath` under the run's artifact root.
 * Mirrors MLflow's MlflowArtifactsRepository.resolve_uri: `mlflow-artifacts:/<exp>/<run>/artifacts`
 * → `<tracking scheme>://<artifact-uri host or tracking host><tracking path>/api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts`.
 * A run whose artifact_uri has another scheme (s3:, file:, …) falls back to the proxy's default
 * layout `<exp>/<run>/artifacts`, which is only where MLflow looks if the proxy's
 * --artifacts-destination is also that run's artifact root.
 */
export function artifactUploadUrl(trackingUri: string, artifactUri: string | undefined, experimentId: string, runId: string, artifactPath: string): string {
  const tracking = new URL(normaliseTrackingUri(trackingUri));
  let host = tracking.host;
  let runRoot = `/${encodeURIComponent(experimentId)}/${encodeURIComponent(runId)}/artifacts`;
  if (artifactUri?.startsWith('mlflow-artifacts:')) {
    const parsed = new URL(artifactUri); // non-special scheme: host is '' for "mlflow-artifacts:/1/…"
    if (parsed.host) host = parsed.host;
    runRoot = parsed.pathname; // already percent-encoded by URL
  }
  const path = `${tracking.pathname}/${ARTIFACTS_API}/${runRoot}`.replace(/\/{2,}/g, '/').replace(/\/+$/, '');
  const rel = checkArtifactPath(artifactPath).map(encodeURIComponent).join('/');
  return `${tracking.protocol}//${host}${path}/${rel}`;
}

function checkArtifactPath(path: string): string[] {
  const segments = path.split('/');
  // The server rejects traversal (validate_path_is_safe); fail before creating a run instead.
  if (path.includes('\\') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new MlflowError(`artifact path ${JSON.stringify(path)} must be relative, '/'-separated, without empty, '.' or '..' segments`);
  }
  return segments;
}

interface KeyValue {
  key: string;
  value: string;
}
interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
interface Batch {
  params: KeyValue[];
  metrics: Metric[];
  tags: KeyValue[];
}

/**
 * MLflow accepts keys matching [A-Za-z0-9_\-. /] that do not change under posix path
 * normalisation (they may become file names). '@' (as in ndcg@10) becomes '_at_' and any other
 * character outside the set becomes '_'; keys that are still invalid are an error.
 */
export function sanitiseKey(key: string): string {
  const out = key.replace(/@/g, '_at_').replace(/[^A-Za-z0-9_\-. /]/g, '_');
  const badPath = out.startsWith('/') || out.endsWith('/') || out.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (out.length === 0 || out.length > MAX_KEY_LENGTH || badPath) {
    throw new MlflowError(`key ${JSON.stringify(key)} cannot be made a valid MLflow key (got ${JSON.stringify(out)}; ≤ ${MAX_KEY_LENGTH} chars, no empty, '.' or '..' path segments)`);
  }
  return out;
}

/** Sanitised entries; two inputs that sanitise to the same key would silently merge, so that throws. */
function sanitiseEntries<V>(kind: string, record: Record<string, V>): Array<[string, V]> {
  const seen = new Map<string, string>();
  return Object.entries(record).map(([raw, value]) => {
    const key = sanitiseKey(raw);
    const prior = seen.get(key);
    if (prior !== undefined) throw new MlflowError(`${kind} keys ${JSON.stringify(prior)} and ${JSON.stringify(raw)} both map to MLflow key ${JSON.stringify(key)}`);
    seen.set(key, raw);
    return [key, value];
  });
}

/** Truncates to `max` code points (MLflow counts Python str length), never splitting a surrogate pair. */
function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  const points = Array.from(value);
  return points.length <= max ? value : points.slice(0, max).join('');
}

/**
 * Packs entities into as few log-batch requests as the limits allow, keeping each kind's order.
 * Each request takes up to the per-kind limit of params, then tags, then metrics.
 */
function planBatches(params: KeyValue[], tags: KeyValue[], metrics: Metric[]): Batch[] {
  const batches: Batch[] = [];
  const cursor = { params: 0, tags: 0, metrics: 0 };
  while (cursor.params < params.length || cursor.tags < tags.length || cursor.metrics < metrics.length) {
    const batch: Batch = { params: [], metrics: [], tags: [] };
    let count = 0;
    let bytes = 0;
    const take = <T>(kind: keyof Batch & keyof typeof cursor, source: T[], out: T[], limit: number): void => {
      while (cursor[kind] < source.length && out.length < limit && count < MAX_ENTITIES_PER_BATCH) {
        const size = Buffer.byteLength(JSON.stringify(source[cursor[kind]])) + 1;
        if (count > 0 && bytes + size > MAX_BATCH_BYTES) return; // a lone oversized entity still goes, so we always progress
        out.push(source[cursor[kind]++]);
        count++;
        bytes += size;
      }
    };
    take('params', params, batch.params, MAX_PARAMS_PER_BATCH);
    take('tags', tags, batch.tags, MAX_TAGS_PER_BATCH);
    take('metrics', metrics, batch.metrics, MAX_METRICS_PER_BATCH);
    batches.push(batch);
  }
  return batches;
}

/**
 * How a call may be retried.
 * - 'idempotent': repeating it cannot change the outcome (GET, update, log-batch whose params
 *   and tags are idempotent by spec, artifact PUT overwriting the same bytes, experiments/create
 *   whose repeat surfaces as RESOURCE_ALREADY_EXISTS which we handle): retry on 429, 5xx,
 *   timeouts and network errors.
 * - 'once': runs/create is not idempotent; a retry after the server may have acted creates a
 *   second, orphaned run. Only retried when the request certainly did not run: 429/503
 *   (rejected before handling) or a refused/unresolvable connection. Never after a timeout,
 *   a reset connection or another 5xx.
 */
type RetryMode = 'idempotent' | 'once';

interface CallSpec {
  call: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  json?: unknown;
  bytes?: Buffer;
  contentType?: string;
  mode: RetryMode;
  /** Extra context for error messages, e.g. "run abc in experiment 1". */
  context?: string;
  /** Bulk upload: may take the operation's whole remaining budget rather than timeoutMs. */
  long?: boolean;
}

export type Json = Record<string, unknown>;

/**
 * One operation's connection to MLflow: auth, retries with backoff, and a deadline shared by
 * every request the operation makes (created per operation, so the budget starts then).
 */
export class MlflowClient {
  readonly base: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly auth: string | undefined;
  private readonly deadline: number;
  private readonly budgetMs: number;

  constructor(readonly cfg: MlflowConfig) {
    this.base = normaliseTrackingUri(cfg.trackingUri);
    this.timeoutMs = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = cfg.retries ?? DEFAULT_RETRIES;
    this.budgetMs = cfg.budgetMs ?? DEFAULT_BUDGET_MS;
    if (!(this.timeoutMs > 0)) throw new Error(`MLflow timeoutMs must be > 0, got ${cfg.timeoutMs}`);
    if (!(this.budgetMs > 0)) throw new Error(`MLflow budgetMs must be > 0, got ${cfg.budgetMs}`);
    if (!Number.isInteger(this.retries) || this.retries < 0) throw new Error(`MLflow retries must be an integer ≥ 0, got ${cfg.retries}`);
    this.deadline = Date.now() + this.budgetMs;
    // Same precedence as MLflow's rest_utils: basic auth when both parts are set, else the token.
    if (cfg.username && cfg.password) this.auth = `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64')}`;
    else if (cfg.token) this.auth = `Bearer ${cfg.token}`;
  }

  api(endpoint: string): string {
    return `${this.base}/api/2.0/mlflow/${endpoint}`;
  }

  /** GET an API endpoint (retried: reads are idempotent). */
  get(endpoint: string, query: Record<string, string>, context?: string): Promise<Json> {
    return this.request({ call: endpoint, method: 'GET', url: `${this.api(endpoint)}?${new URLSearchParams(query)}`, mode: 'idempotent', context });
  }

  /** POST (or PATCH/DELETE) JSON to an API endpoint. */
  send(endpoint: string, json: Json, opts: { method?: 'POST' | 'PATCH' | 'DELETE'; mode?: RetryMode; context?: string } = {}): Promise<Json> {
    return this.request({ call: endpoint, method: opts.method ?? 'POST', url: this.api(endpoint), json, mode: opts.mode ?? 'idempotent', context: opts.context });
  }

  private remainingMs(): number {
    return this.deadline - Date.now();
  }

  async request(spec: CallSpec): Promise<Json> {
    const where = spec.context ? ` (${spec.context})` : '';
    for (let attempt = 0; ; attempt++) {
      const remaining = this.remainingMs();
      if (remaining <= 0) throw new MlflowError(`MLflow ${spec.call} not attempted: the ${this.budgetMs} ms budget of this operation is spent${where}`);
      const timeoutMs = spec.long ? remaining : Math.min(this.timeoutMs, remaining);
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (this.auth) headers.Authorization = this.auth;
      let body: string | Uint8Array<ArrayBuffer> | undefined;
      if (spec.bytes !== undefined) {
        body = plainBytes(spec.bytes);
        headers['Content-Type'] = spec.contentType ?? 'application/octet-stream';
      } else if (spec.json !== undefined) {
        body = JSON.stringify(spec.json);
        headers['Content-Type'] = 'application/json'; // MLflow rejects POSTs without it
      }
      const canRetry = attempt < this.retries && this.remainingMs() > BACKOFF_BASE_MS;
      let res: Response;
      let text: string;
      try {
        // The timeout covers reading the response body too.
        res = await fetch(spec.url, { method: spec.method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
        text = await res.text();
      } catch (err) {
        // Structural checks, not instanceof: fetch's errors come from Node's realm, which differs
        // from the caller's under vm-based runners such as jest.
        const timedOut = isObject(err) && err.name === 'TimeoutError';
        const code = networkCode(err);
        const neverSent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
        if (canRetry && (spec.mode === 'idempotent' || neverSent)) {
          await sleep(Math.min(backoff(attempt), Math.max(0, this.remainingMs())));
          continue;
        }
        const why = timedOut ? `timed out after ${timeoutMs} ms` : `network error: ${code ?? describe(isObject(err) && err.cause !== undefined ? err.cause : err)}`;
        const note = spec.mode === 'once' && !neverSent ? ' (not retried: the server may have acted on it)' : '';
        throw new MlflowError(`MLflow ${spec.call} ${why}${note}${where}`);
      }
      if (res.ok) {
        if (text.trim() === '') return {};
        try {
          const parsed: unknown = JSON.parse(text);
          if (isObject(parsed)) return parsed;
        } catch {
          // fall through: a 200 HTML page usually means an auth proxy's login page
        }
        throw new MlflowError(`MLflow ${spec.call} returned HTTP ${res.status} with a non-JSON body${where}: ${snippet(text)}`, res.status);
      }
      const retryable = spec.mode === 'idempotent' ? res.status === 429 || res.status >= 500 : res.status === 429 || res.status === 503;
      if (canRetry && retryable) {
        await sleep(Math.min(Math.max(backoff(attempt), retryAfterMs(res.headers.get('retry-after'))), Math.max(0, this.remainingMs())));
        continue;
      }
      const { errorCode, message } = parseError(text);
      throw new MlflowError(`MLflow ${spec.call} failed: HTTP ${res.status}${errorCode ? ` ${errorCode}` : ''}${message ? `: ${message}` : ''}${where}`, res.status, errorCode);
    }
  }
}

/** fetch's BodyInit wants ArrayBuffer-backed views; Node Buffers may sit on a SharedArrayBuffer type-wise. */
function plainBytes(bytes: Buffer): Uint8Array<ArrayBuffer> {
  const { buffer } = bytes;
  return buffer instanceof ArrayBuffer ? new Uint8Array(buffer, bytes.byteOffset, bytes.byteLength) : Uint8Array.from(bytes);
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function networkCode(err: unknown): string | undefined {
  // undici wraps socket errors: TypeError('fetch failed', { cause: Error & { code } }).
  const cause = isObject(err) ? err.cause : undefined;
  return isObject(cause) && typeof cause.code === 'string' ? cause.code : undefined;
}

function describe(err: unknown): string {
  return isObject(err) && typeof err.message === 'string' ? err.message : String(err);
}

function parseError(text: string): { errorCode?: string; message?: string } {
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body)) {
      return {
        errorCode: typeof body.error_code === 'string' ? body.error_code : undefined,
        message: typeof body.message === 'string' ? body.message : undefined,
      };
    }
  } catch {
    // not MLflow's JSON error shape (e.g. a proxy's HTML error page)
  }
  return { message: text.trim() ? snippet(text) : undefined };
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function backoff(attempt: number): number {
  // Exponential with jitter so trainers that failed together do not retry in lockstep.
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function retryAfterMs(header: string | null): number {
  const seconds = header === null ? NaN : Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, 30_000) : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function str(obj: unknown, key: string): string | undefined {
  return isObject(obj) && typeof obj[key] === 'string' ? obj[key] : undefined;
}

export function isErrorCode(err: unknown, ...codes: string[]): boolean {
  return err instanceof MlflowError && err.errorCode !== undefined && codes.includes(err.errorCode);
}

/** The experiment's id, or undefined when there is none by that name (a deleted one is an error). */
export async function getExperimentId(client: MlflowClient, name: string): Promise<string | undefined> {
  const url = `${client.api('experiments/get-by-name')}?${new URLSearchParams({ experiment_name: name })}`;
  let res: Json;
  try {
    res = await client.request({ call: 'experiments/get-by-name', method: 'GET', url, mode: 'idempotent', context: `experiment ${JSON.stringify(name)}` });
  } catch (err) {
    if (isErrorCode(err, 'RESOURCE_DOES_NOT_EXIST')) return undefined;
    throw err;
  }
  const id = str(res.experiment, 'experiment_id');
  if (!id) throw new MlflowError(`MLflow experiments/get-by-name returned no experiment_id for ${JSON.stringify(name)}`);
  if (str(res.experiment, 'lifecycle_stage') === 'deleted') {
    // runs/create would fail with a vaguer error; creating a new one fails too (name still taken).
    throw new MlflowError(`MLflow experiment ${JSON.stringify(name)} (id ${id}) is deleted; restore it or purge it with \`mlflow gc\``);
  }
  return id;
}

export async function ensureExperiment(client: MlflowClient, name: string): Promise<string> {
  const existing = await getExperimentId(client, name);
  if (existing !== undefined) return existing;
  try {
    const res = await client.request({ call: 'experiments/create', method: 'POST', url: client.api('experiments/create'), json: { name }, mode: 'idempotent', context: `experiment ${JSON.stringify(name)}` });
    const id = str(res, 'experiment_id');
    if (!id) throw new MlflowError(`MLflow experiments/create returned no experiment_id for ${JSON.stringify(name)}`);
    return id;
  } catch (err) {
    // Another trainer created it between our lookup and create (or our own retried create
    // landed twice). ALREADY_EXISTS: the remapped code Databricks documents.
    if (!isErrorCode(err, 'RESOURCE_ALREADY_EXISTS', 'ALREADY_EXISTS')) throw err;
    const id = await getExperimentId(client, name);
    if (id === undefined) throw new MlflowError(`MLflow experiment ${JSON.stringify(name)} reported as existing but not found by name`);
    return id;
  }
}

/** The MLflow UI page of a run. */
export function runUrl(trackingUri: string, experimentId: string, runId: string): string {
  return `${normaliseTrackingUri(trackingUri)}/#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`;
}

/**
 * Records a finished (or failed) training run in MLflow and returns its ids. Inputs are
 * validated before any request, so a bad key never leaves a half-written run behind. If a call
 * fails after the run exists, the run is marked FAILED (best effort) and the error rethrown.
 */
export async function logTrainingRun(cfg: MlflowConfig, run: TrainingRunRecord, client = new MlflowClient(cfg)): Promise<TrackedRun> {
  const params = sanitiseEntries('param', run.params).map(([key, value]) => ({ key, value: truncate(String(value), MAX_PARAM_VALUE_LENGTH) }));
  const tags = sanitiseEntries('tag', run.tags).map(([key, value]) => ({ key, value: truncate(String(value), MAX_TAG_VALUE_LENGTH) }));
  const timestamp = Math.round(run.endTime);
  const metrics: Metric[] = sanitiseEntries('metric', { ...run.metrics, ...run.metricSeries }).flatMap(([key, value]): Metric[] =>
    typeof value === 'number'
      ? [{ key, value, timestamp, step: 0 }]
      : value.map((v, i) => ({ key, value: v, timestamp, step: i + 1 })),
  ).filter((m) => Number.isFinite(m.value));
  for (const artifact of run.artifacts ?? []) checkArtifactPath(artifact.path);

  const experimentId = await ensureExperiment(client, cfg.experimentName);

  // Tags go on runs/create so the run is identifiable even if later calls fail; any beyond
  // one request's worth travel with log-batch.
  const createTags = tags.slice(0, MAX_TAGS_PER_BATCH);
  const created = await client.send(
    'runs/create',
    { experiment_id: experimentId, run_name: run.runName, start_time: Math.round(run.startTime), tags: createTags },
    { mode: 'once', context: `experiment ${experimentId}` },
  );
  const info = isObject(created.run) ? created.run.info : undefined;
  const runId = str(info, 'run_id') ?? str(info, 'run_uuid'); // run_uuid: pre-1.x field name
  if (!runId) throw new MlflowError(`MLflow runs/create returned no run_id (experiment ${experimentId})`);
  const artifactUri = str(info, 'artifact_uri');
  const context = `run ${runId} in experiment ${experimentId}`;

  let open = true; // run created and not yet given its final status
  try {
    for (const batch of planBatches(params, tags.slice(MAX_TAGS_PER_BATCH), metrics)) {
      await client.send('runs/log-batch', { run_id: runId, ...batch }, { context });
    }
    if (run.inputs?.length) {
      // Idempotent server-side: a dataset with the same name and digest is stored once per run.
      await client.send('runs/log-inputs', { run_id: runId, datasets: run.inputs.map(datasetInput) }, { context });
    }
    for (const artifact of run.artifacts ?? []) {
      await client.request({
        call: 'artifact upload',
        method: 'PUT',
        url: artifactUploadUrl(cfg.trackingUri, artifactUri, experimentId, runId, artifact.path),
        bytes: artifact.bytes,
        contentType: artifact.contentType,
        mode: 'idempotent',
        long: true,
        context: `${artifact.path} for ${context}`,
      });
    }
    open = false;
    await client.send('runs/update', { run_id: runId, status: run.status, end_time: timestamp }, { context });
  } catch (err) {
    if (open) {
      // Leave no run stuck in RUNNING; the original error is the one worth reporting.
      await new MlflowClient({ ...cfg, retries: 0, budgetMs: cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS })
        .send('runs/update', { run_id: runId, status: 'FAILED', end_time: Date.now() }, { context })
        .catch(() => undefined);
    }
    throw err;
  }
  const tracked: TrackedRun = { experimentId, runId };
  if (artifactUri !== undefined) tracked.artifactUri = artifactUri;
  return tracked;
}

function datasetInput(d: DatasetInput): Json {
  const dataset: Json = { name: d.name, digest: d.digest.slice(0, 36), source_type: d.sourceType, source: d.source };
  if (d.schema !== undefined) dataset.schema = d.schema;
  if (d.profile !== undefined) dataset.profile = d.profile;
  return { tags: d.context ? [{ key: 'mlflow.data.context', value: d.context }] : [], dataset };
}
