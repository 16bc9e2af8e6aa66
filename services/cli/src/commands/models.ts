/**
 * `netflicks models list|show|compare|validate|promote|rollback|export|prune`: the model registry in
 * PostgreSQL ($DATABASE_URL, else the embedded server). With MLFLOW_TRACKING_URI set, MLflow's
 * registry follows each change (validate, promote, rollback, prune) at once and listings carry each version's MLflow run URL.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import {
  applyRetention,
  createPool,
  listModelVersions,
  listModels,
  listTransitions,
  loadModelArtifact,
  migrate,
  parseVersionRef,
  promoteModelVersion,
  resolveDatabase,
  resolveVersion,
  rollbackModel,
  validateModelVersion,
  type ModelVersionRecord,
} from '@netflicks/db';
import { TRANSITION_MIRROR_BUDGET_MS, budgeted, mirrorModel, mlflowSettingsFromEnv, versionRunUrls, type MirrorOutcome, type MlflowSettings } from '@netflicks/mlflow';
import { createLogger, type Logger } from '@netflicks/platform';
import { THRESHOLD_NAMES, decodeModelFile, parseValidationPolicy, writeModelFile } from '@netflicks/recsys';
import type pg from 'pg';
import { ReportedFailure } from '../errors.js';
import { outputFile, positiveInt } from '../flags.js';
import { compareVersions, comparisonFigure, type VersionComparison } from '../plot/compare-versions.js';
import { plotFiles, writePlots } from '../plot/plot-file.js';
import { formatTable } from '../table.js';

interface DbFlags {
  databaseUrl?: string;
  json?: boolean;
}

/** Who changed the registry: the person at the keyboard, as far as the environment says. */
function actor(): string {
  return `cli:${process.env.USER || process.env.LOGNAME || 'unknown'}`;
}

async function withRegistry<T>(flags: DbFlags, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const env = flags.databaseUrl ? { ...process.env, DATABASE_URL: flags.databaseUrl } : process.env;
  const handle = await resolveDatabase(env);
  const pool = createPool(handle.url, { max: 2, applicationName: 'netflicks-models' });
  try {
    await migrate(pool);
    return await fn(pool);
  } finally {
    await pool.end();
    await handle.stop();
  }
}

/** MLflow when MLFLOW_TRACKING_URI is set: each call waits for it at most the transition budget. */
function mlflowSettings(): MlflowSettings | null {
  const settings = mlflowSettingsFromEnv(process.env);
  return settings && budgeted(settings, TRANSITION_MIRROR_BUDGET_MS);
}

// Warnings go to stderr as JSON lines; stdout stays the command's output.
const mlflowLog = (): Logger => createLogger({ component: 'netflicks-models', level: 'warn', destination: process.stderr });

/**
 * After a committed lifecycle change: MLflow's registry follows at once (a failure only warns).
 * `settings` is read before the change, so a bad MLflow configuration stops the command first.
 */
async function mirrorNow(settings: MlflowSettings | null, pool: pg.Pool, model: string): Promise<{ mlflow?: MirrorOutcome }> {
  return settings ? { mlflow: await mirrorModel(settings, pool, model, mlflowLog()) } : {};
}

/** Versions with their MLflow run URL when MLflow is configured and reachable (else unchanged). */
async function withRunUrls(model: string, versions: ModelVersionRecord[]): Promise<Array<ModelVersionRecord & { mlflowRunUrl?: string | null }>> {
  const settings = mlflowSettings();
  if (!settings) return versions;
  try {
    const urls = await versionRunUrls(settings(model), model);
    return versions.map((v) => ({ ...v, mlflowRunUrl: urls.get(v.version) ?? null }));
  } catch (err) {
    mlflowLog().warn({ err: err instanceof Error ? err.message : String(err), model }, 'MLflow run URLs unavailable');
    return versions;
  }
}

function print(flags: DbFlags, value: unknown, human: () => string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

const metric = (r: ModelVersionRecord, key: string): string => (typeof r.metrics[key] === 'number' ? r.metrics[key].toFixed(4) : '-');

function versionsTable(versions: Array<ModelVersionRecord & { mlflowRunUrl?: string | null }>): string {
  if (versions.length === 0) return '(no versions)';
  const urls = versions.some((v) => v.mlflowRunUrl !== undefined);
  return formatTable(
    ['version', 'state', 'rmse', 'ndcg@10', 'hitrate@10', 'coverage', 'training run', 'created', ...(urls ? ['mlflow run'] : [])],
    versions.map((v) => [
      `v${v.version}`,
      v.state,
      metric(v, 'rmse'),
      metric(v, 'ndcg@10'),
      metric(v, 'hitrate@10'),
      metric(v, 'coverage'),
      v.trainingRun ?? '-',
      v.createdAt.toISOString().replace(/\.\d+Z$/, 'Z'),
      ...(urls ? [v.mlflowRunUrl ?? '-'] : []),
    ]),
  );
}

function addDb(cmd: Command): Command {
  return cmd
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL, else the embedded server)')
    .option('--json', 'print JSON');
}

interface ValidateFlags extends DbFlags {
  policy?: string;
  maxRegression?: string;
  [threshold: string]: unknown;
}

/** --max-rmse for maxRMSE, --min-ndcg-at10 for minNDCGAt10, … (commander camel-cases them back). */
function thresholdFlag(name: string): { flag: string; key: string } {
  const flag = name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2').toLowerCase();
  const key = flag.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  return { flag, key };
}

export function registerModelsCommands(program: Command): void {
  const models = program.command('models').description('the model registry: versions, validation, promotion, rollback, export');

  addDb(models.command('list [model]').description('models, or one model\'s versions (newest first)')).action(
    async (model: string | undefined, flags: DbFlags) => {
      await withRegistry(flags, async (pool) => {
        if (model === undefined) {
          const all = await listModels(pool);
          print(flags, all, () =>
            all.length === 0
              ? '(no models registered: run `netflicks train --model NAME`)'
              : formatTable(
                  ['model', 'versions', 'latest', 'champion (live)', 'challenger'],
                  all.map((m) => [m.name, String(m.versions), fmtV(m.latest), fmtV(m.live), fmtV(m.challenger)]),
                ),
          );
        } else {
          const versions = await withRunUrls(model, await listModelVersions(pool, model));
          print(flags, versions, () => versionsTable(versions));
        }
      });
    },
  );

  addDb(models.command('show <model> [version]').description('one version (number or alias: champion, challenger, latest, previous; default champion)')).action(
    async (model: string, ref: string | undefined, flags: DbFlags) => {
      await withRegistry(flags, async (pool) => {
        const [record] = await withRunUrls(model, [await resolveVersion(pool, model, parseVersionRef(ref ?? 'champion'))]);
        const transitions = await listTransitions(pool, model, { version: record.version });
        print(flags, { ...record, transitions }, () => JSON.stringify({ ...record, transitions }, null, 2));
      });
    },
  );

  addDb(models.command('compare <model> <a> <b>').description('two versions side by side (numbers or aliases): offline metrics, change, training data'))
    .option('--plot <file>', 'also draw the metrics of both versions (Vega-Lite): FILE.svg, FILE.png or FILE.json (the spec); repeatable', plotFiles)
    .action(async (model: string, refA: string, refB: string, flags: DbFlags & { plot?: string[] }) => {
      const comparison = await withRegistry(flags, async (pool) =>
        compareVersions(model, await resolveVersion(pool, model, parseVersionRef(refA)), await resolveVersion(pool, model, parseVersionRef(refB))),
      );
      if (flags.plot) await writePlots(flags.plot, comparisonFigure(comparison));
      print(flags, comparison, () => comparisonTable(comparison));
    });

  const validate = addDb(models.command('validate <model> <version>').description('run the validation gate: thresholds, and no regression against the live version'))
    .option('--policy <pairs>', `gate settings as key=value pairs (${THRESHOLD_NAMES.join(', ')}, maxRegression)`)
    .option('--max-regression <x>', 'relative tolerance against the live version (default 0.02)');
  for (const name of THRESHOLD_NAMES) validate.option(`--${thresholdFlag(name).flag} <x>`, `threshold ${name}`);
  validate.action(async (model: string, ref: string, flags: ValidateFlags) => {
    const settings: Record<string, string> = {};
    for (const pair of (flags.policy ?? '').split(',').filter((p) => p.trim() !== '')) {
      const [k, ...v] = pair.split('=');
      settings[k.trim()] = v.join('=').trim();
    }
    for (const name of THRESHOLD_NAMES) {
      const value = flags[thresholdFlag(name).key];
      if (typeof value === 'string') settings[name] = value;
    }
    if (flags.maxRegression !== undefined) settings.maxRegression = flags.maxRegression;
    const policy = parseValidationPolicy(settings);
    const mlflow = mlflowSettings();
    const result = await withRegistry(flags, async (pool) => {
      const target = await resolveVersion(pool, model, parseVersionRef(ref));
      const validated = await validateModelVersion(pool, model, target.version, policy, { actor: actor() });
      return { ...validated, ...(await mirrorNow(mlflow, pool, model)) };
    });
    print(flags, result, () =>
      [
        `${model} v${result.record.version}: ${result.verdict.outcome.toUpperCase()} (state ${result.record.state})`,
        ...result.verdict.checks.map((c) => `  ${c.status.padEnd(12)} ${c.message}`),
      ].join('\n'),
    );
    // 0 passed, 1 failed, 3 inconclusive: scripts can tell "bad model" from "could not tell".
    if (result.verdict.outcome !== 'passed') throw new ReportedFailure(result.verdict.outcome === 'failed' ? 1 : 3);
  });

  addDb(models.command('promote <model> <version>').description('make a validated (or previously live) version live; the live one is retired'))
    .option('--force', 'also promote a candidate that has not passed validation')
    .option('--reason <text>', 'recorded in the audit trail')
    .action(async (model: string, ref: string, flags: DbFlags & { force?: boolean; reason?: string }) => {
      const mlflow = mlflowSettings();
      const result = await withRegistry(flags, async (pool) => {
        const target = await resolveVersion(pool, model, parseVersionRef(ref));
        const promoted = await promoteModelVersion(pool, model, target.version, { actor: actor(), reason: flags.reason, force: flags.force });
        return { ...promoted, ...(await mirrorNow(mlflow, pool, model)) };
      });
      print(flags, result, () => `${model}: v${result.live.version} is live${result.previous ? ` (v${result.previous} retired)` : ''}`);
    });

  addDb(models.command('rollback <model>').description('make the previously live version live again'))
    .option('--reason <text>', 'recorded in the audit trail')
    .action(async (model: string, flags: DbFlags & { reason?: string }) => {
      const mlflow = mlflowSettings();
      const result = await withRegistry(flags, async (pool) => ({
        ...(await rollbackModel(pool, model, { actor: actor(), reason: flags.reason })),
        ...(await mirrorNow(mlflow, pool, model)),
      }));
      print(flags, result, () => `${model}: rolled back from v${result.previous} to v${result.live.version}`);
    });

  addDb(models.command('export <model> [version]').description('write a version\'s model file (verified) for `netflicks serve --model FILE`'))
    .requiredOption('--out <file>', 'model file to write', outputFile)
    .action(async (model: string, ref: string | undefined, flags: DbFlags & { out: string }) => {
      const out = resolve(flags.out);
      const record = await withRegistry(flags, async (pool) => {
        const rec = await resolveVersion(pool, model, parseVersionRef(ref ?? 'champion'));
        // decode verifies the file's own checksum on top of the registry's sha256
        await writeModelFile(out, decodeModelFile(await loadModelArtifact(pool, model, rec.version)));
        return rec;
      });
      print(flags, { model, version: record.version, out }, () => `${model} v${record.version} → ${out}`);
    });

  addDb(models.command('prune <model>').description('delete versions beyond the newest N (never the live one or the one a rollback returns to)'))
    .requiredOption('--keep <n>', 'versions to keep', positiveInt)
    .action(async (model: string, flags: DbFlags & { keep: number }) => {
      const mlflow = mlflowSettings();
      const { deleted, ...mirrored } = await withRegistry(flags, async (pool) => ({
        deleted: await applyRetention(pool, model, flags.keep, { actor: actor() }),
        ...(await mirrorNow(mlflow, pool, model)),
      }));
      print(flags, { model, deleted, ...mirrored }, () => (deleted.length ? `${model}: deleted ${deleted.map((v) => `v${v}`).join(', ')}` : `${model}: nothing to delete`));
    });
}

function comparisonTable(c: VersionComparison): string {
  const value = (x: number | null): string => (x === null ? '-' : x.toFixed(4));
  const change = (x: number | null): string => (x === null ? '-' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`);
  const va = `v${c.a.version}`;
  const vb = `v${c.b.version}`;
  const trained = (s: VersionComparison['a']): string => `${s.state}, ${s.algorithms.join('+')}, ${s.ratings ?? '?'} ratings, holdout ${s.holdout}, ${s.createdAt.replace(/\.\d+Z$/, 'Z')}`;
  return [
    `${c.model} ${va}: ${trained(c.a)}`,
    `${c.model} ${vb}: ${trained(c.b)}`,
    formatTable(
      ['metric', va, vb, 'change', 'better'],
      c.metrics.map((m) => [m.metric, value(m.a), value(m.b), change(m.relativeChange), m.better === null ? '-' : m.better === 'a' ? va : vb]),
    ),
  ].join('\n');
}

const fmtV = (v: number | null): string => (v === null ? '-' : `v${v}`);
