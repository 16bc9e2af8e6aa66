/**
 * The model registry: versioned model artifacts in PostgreSQL with a lifecycle, MLflow-style
 * aliases, one live version per model, promotion and rollback, an audit trail and retention.
 *
 *   candidate ──► validated ──► live ──► retired ──► live (rollback / re-promotion)
 *       └──────► rejected
 *
 * Every write is one transaction: a registration killed half-way leaves nothing behind, and a
 * promotion either moves both versions or neither.
 */
import { createHash, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb, constants as zlibConstants } from 'node:zlib';
import { MODEL_NAME_PATTERN, type Baseline } from '@netflicks/contracts';
import type pg from 'pg';
import { describeError } from './errors.js';
import { withTransaction, type Queryable } from './pool.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

export const MODEL_STATES = ['candidate', 'validated', 'rejected', 'live', 'retired'] as const;
export type ModelVersionState = (typeof MODEL_STATES)[number];

/** NOTIFY channel of promotions and rollbacks; the payload is the model name. */
export const MODEL_LIVE_CHANNEL = 'netflicks_model_live';

const ARTIFACT_CHUNK_BYTES = 4 * 1024 * 1024;

/** A registry request that cannot be honoured as asked (unknown version, illegal transition, …). */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly code: 'not-found' | 'invalid-transition' | 'invalid-input' | 'no-live-version' | 'no-previous-version',
  ) {
    super(message);
  }
}

/** A stored artifact whose bytes do not match its recorded size or sha256. */
export class ArtifactIntegrityError extends Error {
  override readonly name = 'ArtifactIntegrityError';
}

export interface DataSnapshotInfo {
  /** Newest rating time in the snapshot (null: no ratings). */
  watermark: Date | null;
  /** fingerprintRatings of the snapshot. */
  fingerprint: string;
  ratings: number;
  users: number;
  movies: number;
}

/** The live version's metrics measured on a candidate's holdout. */
export interface RegisterInput {
  modelName: string;
  trainingRun?: string | null;
  algorithms: string[];
  hyperparameters: Record<string, string>;
  holdout: string;
  data: DataSnapshotInfo;
  metrics: Record<string, number>;
  baseline?: Baseline | null;
  timings?: Record<string, number>;
  /** Who or what registers: e.g. "trainer/run-42". */
  actor: string;
}

export interface ModelVersionRecord {
  modelName: string;
  version: number;
  trainingRun: string | null;
  algorithms: string[];
  hyperparameters: Record<string, string>;
  holdout: string;
  dataWatermark: Date | null;
  dataFingerprint: string;
  dataStats: { ratings?: number; users?: number; movies?: number };
  metrics: Record<string, number>;
  baseline: Baseline | null;
  timings: Record<string, number>;
  artifactSize: number;
  artifactSha256: string;
  modelFileSize: number;
  state: ModelVersionState;
  verdict: unknown;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
  updatedBy: string;
  promotedAt: Date | null;
  retiredAt: Date | null;
  previousLive: number | null;
}

export interface Transition {
  modelName: string;
  version: number;
  from: ModelVersionState | null;
  to: ModelVersionState | 'deleted';
  actor: string;
  reason: string;
  at: Date;
}

interface VersionRow {
  model_name: string;
  version: number;
  training_run: string | null;
  algorithms: string[];
  hyperparameters: Record<string, string>;
  holdout: string;
  data_watermark: Date | null;
  data_fingerprint: string;
  data_stats: ModelVersionRecord['dataStats'];
  metrics: Record<string, number>;
  baseline: Baseline | null;
  timings: Record<string, number>;
  artifact_size: string;
  artifact_sha256: string;
  model_file_size: string;
  state: ModelVersionState;
  verdict: unknown;
  created_at: Date;
  created_by: string;
  updated_at: Date;
  updated_by: string;
  promoted_at: Date | null;
  retired_at: Date | null;
  previous_live: number | null;
}

const VERSION_COLUMNS = `model_name, version, training_run, algorithms, hyperparameters, holdout, data_watermark,
  data_fingerprint, data_stats, metrics, baseline, timings, artifact_size, artifact_sha256, model_file_size, state,
  verdict, created_at, created_by, updated_at, updated_by, promoted_at, retired_at, previous_live`;

function toRecord(r: VersionRow): ModelVersionRecord {
  return {
    modelName: r.model_name,
    version: r.version,
    trainingRun: r.training_run,
    algorithms: r.algorithms,
    hyperparameters: r.hyperparameters,
    holdout: r.holdout,
    dataWatermark: r.data_watermark,
    dataFingerprint: r.data_fingerprint,
    dataStats: r.data_stats,
    metrics: r.metrics,
    baseline: r.baseline,
    timings: r.timings,
    artifactSize: Number(r.artifact_size),
    artifactSha256: r.artifact_sha256,
    modelFileSize: Number(r.model_file_size),
    state: r.state,
    verdict: r.verdict,
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
    promotedAt: r.promoted_at,
    retiredAt: r.retired_at,
    previousLive: r.previous_live,
  };
}

export function assertModelName(name: string): void {
  if (!MODEL_NAME_PATTERN.test(name)) {
    throw new RegistryError(
      `invalid model name "${name}": use 1–63 lowercase letters, digits and '-', starting and ending with a letter or digit`,
      'invalid-input',
    );
  }
}

/** JSON numbers cannot be NaN/∞: a metric that could not be computed is left out, not faked. */
function finiteOnly(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
}

function finiteBaseline(b: Baseline): Baseline {
  return { ...b, metrics: finiteOnly(b.metrics), ...(b.candidate ? { candidate: finiteOnly(b.candidate) } : {}) };
}

export interface CompressedArtifact {
  bytes: Buffer;
  sha256: string;
  modelFileSize: number;
}

/** gzip (level 1: model files are mostly floats, where higher levels buy little) + sha256. */
export async function compressArtifact(modelFile: Buffer): Promise<CompressedArtifact> {
  const bytes = await gzip(modelFile, { level: 1, memLevel: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY });
  return { bytes, sha256: sha256Hex(bytes), modelFileSize: modelFile.length };
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface RegisterOptions {
  /** Called between artifact chunks (fraction of bytes written). */
  onProgress?: (fraction: number) => void;
}

/**
 * Stores a trained model as the next version of `input.modelName`, in state `candidate`.
 * The version number is assigned by the database at commit time; two concurrent registrations
 * get distinct, increasing numbers.
 */
export async function registerModelVersion(
  pool: pg.Pool,
  input: RegisterInput,
  artifact: CompressedArtifact,
  opts: RegisterOptions = {},
): Promise<ModelVersionRecord> {
  assertModelName(input.modelName);
  if (input.algorithms.length === 0) throw new RegistryError('a model version needs at least one algorithm', 'invalid-input');
  if (!/^[0-9a-f]{64}$/.test(input.data.fingerprint)) throw new RegistryError('data fingerprint must be 64 hex digits', 'invalid-input');
  return withTransaction(pool, async (client) => {
    const artifactId = randomUUID();
    await client.query('INSERT INTO model_artifacts (id) VALUES ($1)', [artifactId]);
    const total = artifact.bytes.length;
    for (let seq = 0, off = 0; off < total; seq++, off += ARTIFACT_CHUNK_BYTES) {
      const chunk = artifact.bytes.subarray(off, Math.min(total, off + ARTIFACT_CHUNK_BYTES));
      await client.query('INSERT INTO model_artifact_chunks (artifact_id, seq, data) VALUES ($1, $2, $3)', [artifactId, seq, chunk]);
      opts.onProgress?.(Math.min(1, (off + chunk.length) / total));
    }
    // The counter row is locked from here to COMMIT: milliseconds, whatever the artifact's size.
    const { rows } = await client.query<{ version: number }>(
      `INSERT INTO models (name, next_version) VALUES ($1, 2)
       ON CONFLICT (name) DO UPDATE SET next_version = models.next_version + 1
       RETURNING next_version - 1 AS version`,
      [input.modelName],
    );
    const version = rows[0].version;
    const inserted = await client.query<VersionRow>(
      `INSERT INTO model_versions (model_name, version, training_run, algorithms, hyperparameters, holdout,
         data_watermark, data_fingerprint, data_stats, metrics, baseline, timings, artifact_id, artifact_size,
         artifact_sha256, model_file_size, created_by, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)
       RETURNING ${VERSION_COLUMNS}`,
      [
        input.modelName,
        version,
        input.trainingRun ?? null,
        input.algorithms,
        JSON.stringify(input.hyperparameters),
        input.holdout,
        input.data.watermark,
        input.data.fingerprint,
        JSON.stringify({ ratings: input.data.ratings, users: input.data.users, movies: input.data.movies }),
        JSON.stringify(finiteOnly(input.metrics)),
        input.baseline ? JSON.stringify(finiteBaseline(input.baseline)) : null,
        JSON.stringify(input.timings ?? {}),
        artifactId,
        total,
        artifact.sha256,
        artifact.modelFileSize,
        input.actor,
      ],
    );
    await audit(client, input.modelName, version, null, 'candidate', input.actor, 'registered');
    return toRecord(inserted.rows[0]);
  });
}

async function audit(
  db: Queryable,
  model: string,
  version: number,
  from: ModelVersionState | null,
  to: ModelVersionState | 'deleted',
  actor: string,
  reason: string,
): Promise<void> {
  await db.query(
    'INSERT INTO model_transitions (model_name, version, from_state, to_state, actor, reason) VALUES ($1, $2, $3, $4, $5, $6)',
    [model, version, from, to, actor, reason],
  );
}

export async function getModelVersion(db: Queryable, modelName: string, version: number): Promise<ModelVersionRecord | null> {
  const { rows } = await db.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model_name = $1 AND version = $2`, [
    modelName,
    version,
  ]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** The version a training run registered (the newest, if a run was retried after registering). */
export async function findVersionByTrainingRun(db: Queryable, modelName: string, trainingRun: string): Promise<ModelVersionRecord | null> {
  const { rows } = await db.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model_name = $1 AND training_run = $2 ORDER BY version DESC LIMIT 1`,
    [modelName, trainingRun],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** The champion: the model's live version, if any. */
export async function getLiveVersion(db: Queryable, modelName: string): Promise<ModelVersionRecord | null> {
  const { rows } = await db.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model_name = $1 AND state = 'live'`, [
    modelName,
  ]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Newest first. */
export async function listModelVersions(db: Queryable, modelName: string, opts: { limit?: number } = {}): Promise<ModelVersionRecord[]> {
  const { rows } = await db.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model_name = $1 ORDER BY version DESC LIMIT $2`,
    [modelName, opts.limit ?? 1000],
  );
  return rows.map(toRecord);
}

export interface ModelSummary {
  name: string;
  versions: number;
  latest: number | null;
  live: number | null;
  challenger: number | null;
  createdAt: Date;
}

export async function listModels(db: Queryable): Promise<ModelSummary[]> {
  const { rows } = await db.query<{
    name: string;
    versions: string;
    latest: number | null;
    live: number | null;
    challenger: number | null;
    created_at: Date;
  }>(
    `SELECT m.name, m.created_at, count(v.version) AS versions, max(v.version) AS latest,
            max(v.version) FILTER (WHERE v.state = 'live') AS live,
            max(v.version) FILTER (WHERE v.state = 'validated') AS challenger
     FROM models m LEFT JOIN model_versions v ON v.model_name = m.name
     GROUP BY m.name ORDER BY m.name`,
  );
  return rows.map((r) => ({
    name: r.name,
    versions: Number(r.versions),
    latest: r.latest,
    live: r.live,
    challenger: r.challenger,
    createdAt: r.created_at,
  }));
}

/** Version references: a number, or an alias (champion/live, challenger, latest, previous). */
export type VersionRef = number | 'champion' | 'live' | 'challenger' | 'latest' | 'previous';

export function parseVersionRef(text: string): VersionRef {
  const t = text.trim().toLowerCase().replace(/^v(?=\d)/, '');
  if (/^\d+$/.test(t) && Number(t) > 0 && Number(t) <= 2_147_483_647) return Number(t);
  if (t === 'champion' || t === 'live' || t === 'challenger' || t === 'latest' || t === 'previous') return t;
  throw new RegistryError(
    `invalid version "${text}": use a positive number (3 or v3) or an alias: champion (live), challenger, latest, previous`,
    'invalid-input',
  );
}

/** Resolves a reference to a version record, or throws not-found with what was looked for. */
export async function resolveVersion(db: Queryable, modelName: string, ref: VersionRef): Promise<ModelVersionRecord> {
  let rec: ModelVersionRecord | null;
  if (typeof ref === 'number') {
    rec = await getModelVersion(db, modelName, ref);
  } else if (ref === 'champion' || ref === 'live') {
    rec = await getLiveVersion(db, modelName);
  } else if (ref === 'previous') {
    const live = await getLiveVersion(db, modelName);
    rec = live?.previousLive ? await getModelVersion(db, modelName, live.previousLive) : null;
  } else {
    const where = ref === 'challenger' ? "AND state = 'validated'" : '';
    const { rows } = await db.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model_name = $1 ${where} ORDER BY version DESC LIMIT 1`,
      [modelName],
    );
    rec = rows[0] ? toRecord(rows[0]) : null;
  }
  if (!rec) {
    const what = typeof ref === 'number' ? `version ${ref}` : `${ref} version`;
    throw new RegistryError(`model "${modelName}" has no ${what}`, 'not-found');
  }
  return rec;
}

/**
 * The artifact's model-file bytes after checking the stored bytes' size and sha256 against the
 * registry record; a mismatch is refused with ArtifactIntegrityError.
 */
export async function loadModelArtifact(db: Queryable, modelName: string, version: number): Promise<Buffer> {
  const { rows } = await db.query<{ artifact_id: string; artifact_size: string; artifact_sha256: string; model_file_size: string }>(
    'SELECT artifact_id, artifact_size, artifact_sha256, model_file_size FROM model_versions WHERE model_name = $1 AND version = $2',
    [modelName, version],
  );
  const head = rows[0];
  if (!head) throw new RegistryError(`model "${modelName}" has no version ${version}`, 'not-found');
  const label = `model "${modelName}" version ${version}`;
  const chunks = await db.query<{ data: Buffer }>('SELECT data FROM model_artifact_chunks WHERE artifact_id = $1 ORDER BY seq', [
    head.artifact_id,
  ]);
  const bytes = Buffer.concat(chunks.rows.map((r) => r.data));
  if (bytes.length !== Number(head.artifact_size)) {
    throw new ArtifactIntegrityError(`${label}: artifact is ${bytes.length} bytes, the registry recorded ${head.artifact_size}; refusing to load it`);
  }
  const digest = sha256Hex(bytes);
  if (digest !== head.artifact_sha256) {
    throw new ArtifactIntegrityError(
      `${label}: artifact checksum mismatch (sha256 ${digest.slice(0, 12)}…, recorded ${head.artifact_sha256.slice(0, 12)}…); refusing to load it`,
    );
  }
  let file: Buffer;
  try {
    // Never inflate past the recorded size (+1 byte, so a longer stream is reported as a mismatch).
    file = await gunzip(bytes, { maxOutputLength: Number(head.model_file_size) + 1 });
  } catch (err) {
    throw new ArtifactIntegrityError(`${label}: artifact does not decompress: ${describeError(err)}`);
  }
  if (file.length !== Number(head.model_file_size)) {
    throw new ArtifactIntegrityError(`${label}: model file is ${file.length} bytes, the registry recorded ${head.model_file_size}`);
  }
  return file;
}

/** Legal state changes; rollback and promotion are the only ways into `live`. */
const TRANSITIONS: Record<ModelVersionState, readonly ModelVersionState[]> = {
  candidate: ['validated', 'rejected'],
  validated: ['live', 'rejected', 'retired'],
  rejected: [],
  live: ['retired'],
  retired: ['live'],
};

export function canTransition(from: ModelVersionState, to: ModelVersionState): boolean {
  return TRANSITIONS[from].includes(to);
}

interface LockedVersion {
  version: number;
  state: ModelVersionState;
  previous_live: number | null;
}

/** Serialises lifecycle changes of one model (promotions, rollbacks, verdicts) on its row. */
async function lockModel(client: pg.PoolClient, modelName: string): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM models WHERE name = $1 FOR UPDATE', [modelName]);
  if (!rowCount) throw new RegistryError(`no model named "${modelName}" in the registry`, 'not-found');
}

async function lockedVersion(client: pg.PoolClient, modelName: string, version: number): Promise<LockedVersion> {
  const { rows } = await client.query<LockedVersion>(
    'SELECT version, state, previous_live FROM model_versions WHERE model_name = $1 AND version = $2',
    [modelName, version],
  );
  if (!rows[0]) throw new RegistryError(`model "${modelName}" has no version ${version}`, 'not-found');
  return rows[0];
}

async function liveLocked(client: pg.PoolClient, modelName: string): Promise<LockedVersion | null> {
  const { rows } = await client.query<LockedVersion>(
    "SELECT version, state, previous_live FROM model_versions WHERE model_name = $1 AND state = 'live'",
    [modelName],
  );
  return rows[0] ?? null;
}

export interface ActorOptions {
  actor: string;
  reason?: string;
}

export type VerdictOutcome = 'passed' | 'failed' | 'inconclusive';

/**
 * Records a validation verdict: passed → validated, failed → rejected, inconclusive → the version
 * stays a candidate (with the verdict stored so people can see why). Only candidates change state.
 */
export async function recordVerdict(
  pool: pg.Pool,
  modelName: string,
  version: number,
  verdict: { outcome: VerdictOutcome } & Record<string, unknown>,
  opts: ActorOptions,
): Promise<ModelVersionRecord> {
  return withTransaction(pool, async (client) => {
    await lockModel(client, modelName);
    const v = await lockedVersion(client, modelName, version);
    const to: ModelVersionState | null =
      v.state === 'candidate' && verdict.outcome !== 'inconclusive' ? (verdict.outcome === 'passed' ? 'validated' : 'rejected') : null;
    await client.query(
      `UPDATE model_versions SET verdict = $3, updated_at = now(), updated_by = $4, state = coalesce($5, state)
       WHERE model_name = $1 AND version = $2`,
      [modelName, version, JSON.stringify(verdict), opts.actor, to],
    );
    if (to) await audit(client, modelName, version, v.state, to, opts.actor, opts.reason ?? `validation ${verdict.outcome}`);
    return (await getModelVersion(client, modelName, version)) as ModelVersionRecord;
  });
}

export interface PromotionResult {
  live: ModelVersionRecord;
  /** The version that was live before (now retired), if any. */
  previous: number | null;
}

/**
 * Makes `version` the live one, retiring the current live version, in one transaction; NOTIFYs
 * MODEL_LIVE_CHANNEL. Only validated (or retired, i.e. previously live) versions can be promoted
 * unless `force` is set (a candidate; never a rejected one). Promoting the live version is a no-op.
 */
export async function promoteModelVersion(
  pool: pg.Pool,
  modelName: string,
  version: number,
  opts: ActorOptions & { force?: boolean },
): Promise<PromotionResult> {
  return withTransaction(pool, async (client) => {
    await lockModel(client, modelName);
    const target = await lockedVersion(client, modelName, version);
    const current = await liveLocked(client, modelName);
    if (target.state === 'live') {
      return { live: (await getModelVersion(client, modelName, version)) as ModelVersionRecord, previous: target.previous_live };
    }
    const forced = opts.force === true && target.state === 'candidate';
    if (!canTransition(target.state, 'live') && !forced) {
      const hint = target.state === 'candidate' ? ' (validate it first, or force the promotion)' : '';
      throw new RegistryError(`cannot promote ${modelName} v${version}: it is ${target.state}${hint}`, 'invalid-transition');
    }
    const reason = opts.reason ?? (forced ? 'forced promotion' : 'promoted');
    if (current) await retire(client, modelName, current.version, opts.actor, `replaced by v${version}`);
    await client.query(
      `UPDATE model_versions SET state = 'live', promoted_at = now(), retired_at = NULL, previous_live = $3,
         updated_at = now(), updated_by = $4
       WHERE model_name = $1 AND version = $2`,
      [modelName, version, current?.version ?? null, opts.actor],
    );
    await audit(client, modelName, version, target.state, 'live', opts.actor, reason);
    await client.query('SELECT pg_notify($1, $2)', [MODEL_LIVE_CHANNEL, modelName]);
    return { live: (await getModelVersion(client, modelName, version)) as ModelVersionRecord, previous: current?.version ?? null };
  });
}

async function retire(client: pg.PoolClient, modelName: string, version: number, actor: string, reason: string): Promise<void> {
  await client.query(
    `UPDATE model_versions SET state = 'retired', retired_at = now(), updated_at = now(), updated_by = $3
     WHERE model_name = $1 AND version = $2`,
    [modelName, version, actor],
  );
  await audit(client, modelName, version, 'live', 'retired', actor, reason);
}

/**
 * One step back: the live version is retired and the version that was live before it becomes live
 * again (keeping its own predecessor, so rollbacks can walk further back).
 */
export async function rollbackModel(pool: pg.Pool, modelName: string, opts: ActorOptions): Promise<PromotionResult> {
  return withTransaction(pool, async (client) => {
    await lockModel(client, modelName);
    const current = await liveLocked(client, modelName);
    if (!current) throw new RegistryError(`model "${modelName}" has no live version to roll back`, 'no-live-version');
    if (current.previous_live === null) {
      throw new RegistryError(`model "${modelName}" v${current.version} has no previous live version to roll back to`, 'no-previous-version');
    }
    const target = await lockedVersion(client, modelName, current.previous_live).catch((err: unknown) => {
      if (err instanceof RegistryError) {
        throw new RegistryError(`the previous live version v${current.previous_live} of "${modelName}" no longer exists`, 'no-previous-version');
      }
      throw err;
    });
    await retire(client, modelName, current.version, opts.actor, `rolled back to v${target.version}`);
    await client.query(
      `UPDATE model_versions SET state = 'live', promoted_at = now(), retired_at = NULL, updated_at = now(), updated_by = $3
       WHERE model_name = $1 AND version = $2`,
      [modelName, target.version, opts.actor],
    );
    await audit(client, modelName, target.version, target.state, 'live', opts.actor, opts.reason ?? `rollback from v${current.version}`);
    await client.query('SELECT pg_notify($1, $2)', [MODEL_LIVE_CHANNEL, modelName]);
    return { live: (await getModelVersion(client, modelName, target.version)) as ModelVersionRecord, previous: current.version };
  });
}

export async function listTransitions(db: Queryable, modelName: string, opts: { version?: number; limit?: number } = {}): Promise<Transition[]> {
  const { rows } = await db.query<{
    model_name: string;
    version: number;
    from_state: ModelVersionState | null;
    to_state: ModelVersionState | 'deleted';
    actor: string;
    reason: string;
    at: Date;
  }>(
    `SELECT model_name, version, from_state, to_state, actor, reason, at FROM model_transitions
     WHERE model_name = $1 AND ($2::int IS NULL OR version = $2) ORDER BY id DESC LIMIT $3`,
    [modelName, opts.version ?? null, opts.limit ?? 100],
  );
  return rows.map((r) => ({
    modelName: r.model_name,
    version: r.version,
    from: r.from_state,
    to: r.to_state,
    actor: r.actor,
    reason: r.reason,
    at: r.at,
  }));
}

/**
 * Deletes old versions (row and artifact) beyond the newest `keepLast`, never the live version
 * nor the one a rollback would return to. Returns the deleted version numbers.
 */
export async function applyRetention(pool: pg.Pool, modelName: string, keepLast: number, opts: ActorOptions): Promise<number[]> {
  if (!Number.isInteger(keepLast) || keepLast < 1) throw new RegistryError(`keepLast must be a positive integer, got ${keepLast}`, 'invalid-input');
  return withTransaction(pool, async (client) => {
    await lockModel(client, modelName);
    const live = await liveLocked(client, modelName);
    const { rows } = await client.query<{ version: number; state: ModelVersionState; artifact_id: string }>(
      `DELETE FROM model_versions
       WHERE model_name = $1
         AND version NOT IN (SELECT version FROM model_versions WHERE model_name = $1 ORDER BY version DESC LIMIT $2)
         AND state <> 'live' AND version IS DISTINCT FROM $3::int
       RETURNING version, state, artifact_id`,
      [modelName, keepLast, live?.previous_live ?? null],
    );
    if (rows.length > 0) {
      await client.query('DELETE FROM model_artifacts WHERE id = ANY($1::uuid[])', [rows.map((r) => r.artifact_id)]);
    }
    for (const r of rows) await audit(client, modelName, r.version, r.state, 'deleted', opts.actor, opts.reason ?? `retention: keep last ${keepLast}`);
    return rows.map((r) => r.version).sort((a, b) => a - b);
  });
}
