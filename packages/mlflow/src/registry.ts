/**
 * Mirrors Netflicks' model registry (PostgreSQL, the authority) into MLflow's: one registered
 * model per Netflicks model, one MLflow model version per Netflicks version (found again by its
 * `netflicks.version` tag), the state and verdict as version tags, and the `champion` and
 * `challenger` aliases on the versions that hold them in Netflicks. A pass is a reconciliation:
 * it reads what MLflow has and writes only the differences, so running it again after an outage
 * catches up and running it twice changes nothing.
 */
import type { ModelVersionRecord } from '@netflicks/db';
import { MlflowClient, MlflowError, ensureExperiment, getExperimentId, isErrorCode, isObject, logTrainingRun, runUrl, str, type Json, type MlflowConfig, type TrackedRun, type TrainingRunRecord } from './client.js';

/** The Netflicks aliases MLflow carries too (MLflow aliases are free-form). */
export const MIRRORED_ALIASES = ['champion', 'challenger'] as const;

export const TAG = {
  model: 'netflicks.model',
  version: 'netflicks.version',
  state: 'netflicks.state',
  verdict: 'netflicks.verdict',
  verdictOutcome: 'netflicks.verdict.outcome',
} as const;

export interface MirrorInput {
  modelName: string;
  /** Every version of the model in Netflicks' registry. */
  versions: readonly ModelVersionRecord[];
  /**
   * Builds the MLflow run of a version that has none yet (trained while MLflow was down), from
   * what the registry kept of it.
   */
  runFor: (record: ModelVersionRecord) => Promise<TrainingRunRecord>;
}

export interface MirrorResult {
  /** MLflow model version number by Netflicks version. */
  versions: Map<number, string>;
  /** Runs by Netflicks version. */
  runs: Map<number, TrackedRun>;
  /** Writes this pass made (0 when MLflow already matched). */
  changes: number;
}

interface MlflowVersion {
  version: string;
  runId?: string;
  tags: Map<string, string>;
}

const MAX_TAG_VALUE = 5000;

/** `netflicks.state` of a mirrored version that retention deleted from the registry. */
export const DELETED_STATE = 'deleted';

/** The tags a version carries in MLflow for its Netflicks state. */
export function versionTags(record: ModelVersionRecord): Record<string, string> {
  const tags: Record<string, string> = {
    [TAG.model]: record.modelName,
    [TAG.version]: String(record.version),
    [TAG.state]: record.state,
  };
  if (isObject(record.verdict)) {
    const outcome = str(record.verdict, 'outcome');
    if (outcome) tags[TAG.verdictOutcome] = outcome;
    tags[TAG.verdict] = JSON.stringify(record.verdict).slice(0, MAX_TAG_VALUE);
  }
  return tags;
}

/** The Netflicks version each mirrored alias points at (null: the alias is unset). */
export function aliasTargets(versions: readonly ModelVersionRecord[]): Record<(typeof MIRRORED_ALIASES)[number], number | null> {
  const live = versions.find((v) => v.state === 'live');
  const validated = versions.filter((v) => v.state === 'validated').sort((a, b) => b.version - a.version);
  return { champion: live?.version ?? null, challenger: validated[0]?.version ?? null };
}

async function ensureRegisteredModel(client: MlflowClient, name: string): Promise<{ aliases: Map<string, string>; created: boolean }> {
  try {
    const res = await client.get('registered-models/get', { name }, `registered model ${JSON.stringify(name)}`);
    const aliases = new Map<string, string>();
    const list = isObject(res.registered_model) && Array.isArray(res.registered_model.aliases) ? res.registered_model.aliases : [];
    for (const a of list) {
      const alias = str(a, 'alias');
      const version = str(a, 'version');
      if (alias && version) aliases.set(alias, version);
    }
    return { aliases, created: false };
  } catch (err) {
    if (!isErrorCode(err, 'RESOURCE_DOES_NOT_EXIST')) throw err;
  }
  try {
    await client.send('registered-models/create', {
      name,
      description: 'Mirrored from the Netflicks model registry (PostgreSQL is the authority; change state with `netflicks models` or the operator).',
      tags: [{ key: TAG.model, value: name }],
    });
  } catch (err) {
    if (!isErrorCode(err, 'RESOURCE_ALREADY_EXISTS')) throw err; // another mirror pass won the race
  }
  return { aliases: new Map(), created: true };
}

/** Every MLflow version of the model that a mirror created, by Netflicks version. */
async function mirroredVersions(client: MlflowClient, name: string): Promise<Map<number, MlflowVersion>> {
  const out = new Map<number, MlflowVersion>();
  let pageToken: string | undefined;
  do {
    const query: Record<string, string> = { filter: `name='${name}'`, max_results: '200' };
    if (pageToken) query.page_token = pageToken;
    const res = await client.get('model-versions/search', query, `registered model ${JSON.stringify(name)}`);
    for (const mv of Array.isArray(res.model_versions) ? res.model_versions : []) {
      const version = str(mv, 'version');
      if (!version || !isObject(mv)) continue;
      const tags = new Map<string, string>();
      for (const t of Array.isArray(mv.tags) ? mv.tags : []) {
        const key = str(t, 'key');
        if (key) tags.set(key, str(t, 'value') ?? '');
      }
      const netflicks = Number(tags.get(TAG.version));
      if (!Number.isInteger(netflicks)) continue; // created by someone else: not ours to touch
      const prior = out.get(netflicks);
      // Two MLflow versions for one Netflicks version (a create whose reply was lost): keep the oldest.
      if (!prior || Number(version) < Number(prior.version)) out.set(netflicks, { version, runId: str(mv, 'run_id'), tags });
    }
    pageToken = str(res, 'next_page_token') || undefined;
  } while (pageToken);
  return out;
}

/** The run the trainer logged for a version, if any (newest first, so a retried Job's last run wins). */
export async function findVersionRun(client: MlflowClient, experimentId: string, modelName: string, version: number): Promise<TrackedRun | null> {
  const res = await client.send('runs/search', {
    experiment_ids: [experimentId],
    filter: `tags.\`${TAG.model}\` = '${modelName}' and tags.\`${TAG.version}\` = '${version}' and attributes.status = 'FINISHED'`,
    order_by: ['attributes.start_time DESC'],
    max_results: 1,
  });
  const run = Array.isArray(res.runs) ? res.runs[0] : undefined;
  const info = isObject(run) ? run.info : undefined;
  const runId = str(info, 'run_id');
  if (!runId) return null;
  const tracked: TrackedRun = { experimentId, runId };
  const artifactUri = str(info, 'artifact_uri');
  if (artifactUri) tracked.artifactUri = artifactUri;
  return tracked;
}

/** MLflow model versions point at the model file's directory in the run's artifacts. */
export const MODEL_ARTIFACT_DIR = 'model';

function sourceOf(run: TrackedRun): string {
  return run.artifactUri ? `${run.artifactUri.replace(/\/+$/, '')}/${MODEL_ARTIFACT_DIR}` : `runs:/${run.runId}/${MODEL_ARTIFACT_DIR}`;
}

/**
 * One reconciliation pass for one model. Throws MlflowError when MLflow cannot be reached or
 * refuses a write; what was written before stays (the next pass continues from there).
 */
export async function mirrorModelRegistry(cfg: MlflowConfig, input: MirrorInput, known: Map<number, TrackedRun> = new Map(), client = new MlflowClient(cfg)): Promise<MirrorResult> {
  const name = input.modelName;
  const result: MirrorResult = { versions: new Map(), runs: new Map(known), changes: 0 };
  const model = await ensureRegisteredModel(client, name);
  if (model.created) result.changes++;
  const existing = model.created ? new Map<number, MlflowVersion>() : await mirroredVersions(client, name);
  let experimentId: string | undefined;

  for (const record of [...input.versions].sort((a, b) => a.version - b.version)) {
    const wanted = versionTags(record);
    let mv = existing.get(record.version);
    if (!mv) {
      let run = result.runs.get(record.version) ?? null;
      if (!run) {
        experimentId ??= await ensureExperiment(client, cfg.experimentName);
        run = await findVersionRun(client, experimentId, name, record.version);
        if (!run) {
          run = await logTrainingRun(cfg, await input.runFor(record), client);
          result.changes++;
        }
        result.runs.set(record.version, run);
      }
      const res = await client.send(
        'model-versions/create',
        { name, source: sourceOf(run), run_id: run.runId, tags: Object.entries(wanted).map(([key, value]) => ({ key, value })), description: `Netflicks ${name} v${record.version}` },
        // Not idempotent: a retried create after a lost reply makes a duplicate, which
        // mirroredVersions then ignores (it keeps the oldest).
        { mode: 'once', context: `${name} v${record.version}` },
      );
      const version = str(res.model_version, 'version');
      if (!version) throw new MlflowError(`MLflow model-versions/create returned no version for ${name} v${record.version}`);
      mv = { version, runId: run.runId, tags: new Map(Object.entries(wanted)) };
      result.changes++;
    } else {
      for (const [key, value] of Object.entries(wanted)) {
        if (mv.tags.get(key) === value) continue;
        await client.send('model-versions/set-tag', { name, version: mv.version, key, value }, { context: `${name} v${record.version}` });
        result.changes++;
      }
    }
    result.versions.set(record.version, mv.version);
  }

  // Versions the registry no longer has (retention pruned them) stay in MLflow, marked deleted.
  const current = new Set(input.versions.map((v) => v.version));
  for (const [netflicksVersion, mv] of existing) {
    if (current.has(netflicksVersion) || mv.tags.get(TAG.state) === DELETED_STATE) continue;
    await client.send('model-versions/set-tag', { name, version: mv.version, key: TAG.state, value: DELETED_STATE }, { context: `${name} v${netflicksVersion}` });
    result.changes++;
  }

  for (const [alias, netflicksVersion] of Object.entries(aliasTargets(input.versions))) {
    const target = netflicksVersion === null ? undefined : result.versions.get(netflicksVersion);
    const current = model.aliases.get(alias);
    if (target === current) continue;
    if (target === undefined) {
      await client.send('registered-models/alias', { name, alias }, { method: 'DELETE', context: `${name} alias ${alias}` });
    } else {
      await client.send('registered-models/alias', { name, alias, version: target }, { context: `${name} alias ${alias}` });
    }
    result.changes++;
  }
  return result;
}

/** The MLflow UI address of a version's run (`netflicks models show`); null when MLflow has none. */
export async function versionRunUrl(cfg: MlflowConfig, modelName: string, version: number): Promise<string | null> {
  const client = new MlflowClient(cfg);
  const experimentId = await getExperimentId(client, cfg.experimentName);
  const run = experimentId ? await findVersionRun(client, experimentId, modelName, version) : null;
  return run ? runUrl(cfg.trackingUri, run.experimentId, run.runId) : null;
}

/**
 * The MLflow UI address of every version's run (`netflicks models list`): one search, newest run
 * per version (a retried Job's last run wins, as in findVersionRun).
 */
export async function findVersionRunUrls(client: MlflowClient, cfg: MlflowConfig, modelName: string): Promise<Map<number, string>> {
  const urls = new Map<number, string>();
  const experimentId = await getExperimentId(client, cfg.experimentName);
  if (!experimentId) return urls;
  let pageToken: string | undefined;
  do {
    const query: Json = {
      experiment_ids: [experimentId],
      filter: `tags.\`${TAG.model}\` = '${modelName}' and attributes.status = 'FINISHED'`,
      order_by: ['attributes.start_time DESC'],
      max_results: 1000,
    };
    if (pageToken) query.page_token = pageToken;
    const res = await client.send('runs/search', query);
    for (const run of Array.isArray(res.runs) ? res.runs : []) {
      const info = isObject(run) ? run.info : undefined;
      const runId = str(info, 'run_id');
      const tags = isObject(run) && isObject(run.data) && Array.isArray(run.data.tags) ? run.data.tags : [];
      const version = Number(str(tags.find((t) => str(t, 'key') === TAG.version), 'value'));
      if (runId && Number.isInteger(version) && !urls.has(version)) urls.set(version, runUrl(cfg.trackingUri, experimentId, runId));
    }
    pageToken = str(res, 'next_page_token') || undefined;
  } while (pageToken);
  return urls;
}
