/**
 * The CRDs in crds/ and operator/src/generated/crd-types.ts cannot drift: this re-runs
 * scripts/gen-crd-types.mjs in memory and compares its output with the committed file. It also
 * checks the schemas themselves (descriptions, defaults, bounds, CEL rules, printer columns) and
 * the generator's schema → TypeScript mapping. The API server's view of the same files is tested
 * in test/k8s/crds.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  API_VERSION,
  GROUP,
  RECOMMENDER_MODEL_CATEGORIES,
  RECOMMENDER_MODEL_CRD_NAME,
  RECOMMENDER_MODEL_KIND,
  RECOMMENDER_MODEL_PLURAL,
  RECOMMENDER_MODEL_SHORT_NAMES,
  RECOMMENDER_MODEL_SINGULAR,
  TRAINING_RUN_CATEGORIES,
  TRAINING_RUN_CRD_NAME,
  TRAINING_RUN_KIND,
  TRAINING_RUN_PLURAL,
  TRAINING_RUN_SHORT_NAMES,
  TRAINING_RUN_SINGULAR,
  VERSION,
  type RecommenderModel,
  type TrainingRun,
  type TrainingRunStatus,
} from '../src/generated/crd-types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Validation {
  rule: string;
  message?: string;
}
interface Schema {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  format?: string;
  'x-kubernetes-validations'?: Validation[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-int-or-string'?: boolean;
}
interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
  description?: string;
}
interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}
interface LoadedCrd {
  source: string;
  crd: Crd;
}
/** scripts/gen-crd-types.mjs (plain JS: typed here). */
interface Generator {
  OUTPUT: string;
  HEADER: string;
  readYamlDocuments(text: string, source: string): unknown[];
  parseCrds(text: string, source: string): LoadedCrd[];
  loadCrds(dir?: string): Promise<LoadedCrd[]>;
  generate(crds: LoadedCrd[]): string;
}

// A computed specifier: the .mjs has no .d.ts, and tsc must not try to type it.
const gen = (await import(pathToFileURL(join(ROOT, 'scripts/gen-crd-types.mjs')).href)) as Generator;
const loaded = await gen.loadCrds();
const byKind = (kind: string): Crd => {
  const found = loaded.find((l) => l.crd.spec.names.kind === kind);
  if (!found) throw new Error(`no CRD for ${kind} in crds/`);
  return found.crd;
};
const rmCrd = byKind('RecommenderModel');
const trCrd = byKind('TrainingRun');
const rootOf = (crd: Crd): Schema => crd.spec.versions[0].schema.openAPIV3Schema;

/** The schema node at a dotted path of property names ("spec.serving.minReplicas"). */
function at(crd: Crd, path: string): Schema {
  let node = rootOf(crd);
  for (const key of path.split('.')) {
    const next = node.properties?.[key];
    if (!next) throw new Error(`${crd.spec.names.kind}: no schema at ${path} (stopped at ${key})`);
    node = next;
  }
  return node;
}

/** Every property path below a node (through properties, array items and map values). */
function walk(node: Schema, path: string, visit: (path: string, node: Schema) => void): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    visit(`${path}.${key}`, child);
    walk(child, `${path}.${key}`, visit);
  }
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`, visit);
}

/** A CEL single-quoted string literal's value ('^[0-9]+(\\.[0-9]+)?$' → ^[0-9]+(\.[0-9]+)?$). */
function celRegex(rule: string): RegExp {
  const m = /matches\('((?:[^'\\]|\\.)*)'\)/.exec(rule);
  if (!m) throw new Error(`no matches('…') in ${rule}`);
  return new RegExp(m[1].replace(/\\\\/g, '\\'));
}

const DECIMAL_RULE = { rule: "self.matches('^[0-9]+(\\\\.[0-9]+)?$')", message: 'must be a decimal number such as "0.95"' };
const HYPERPARAMETER_RULE = {
  rule: "self.all(k, k.matches('^[a-z]+(\\\\.[A-Za-z]+)?$'))",
  message: 'hyperparameter keys must look like "factors" or "als.regularization"',
};
const THRESHOLDS = ['maxRMSE', 'maxMAE', 'minPrecisionAt10', 'minRecallAt10', 'minNDCGAt10', 'minHitRateAt10', 'minCoverage', 'maxRegression'];
const ALGORITHMS = ['als', 'ials', 'content', 'popularity', 'ease', 'hybrid'];

describe('generated operator/src/generated/crd-types.ts', () => {
  test('is what scripts/gen-crd-types.mjs generates from crds/ (run `node scripts/gen-crd-types.mjs` after editing a CRD)', async () => {
    const committed = await readFile(gen.OUTPUT, 'utf8');
    const fresh = gen.generate(loaded);
    if (committed !== fresh) {
      const a = committed.split('\n');
      const b = fresh.split('\n');
      const found = a.findIndex((l, i) => l !== b[i]);
      const line = found < 0 ? a.length : found; // the committed file is a prefix of the fresh one
      throw new Error(
        `${gen.OUTPUT} is stale: run \`node scripts/gen-crd-types.mjs\`.\nFirst difference at line ${line + 1}:\n  committed: ${a[line] ?? '(end of file)'}\n  generated: ${b[line] ?? '(end of file)'}`,
      );
    }
    expect(committed.split('\n')[0]).toBe('// generated by scripts/gen-crd-types.mjs — do not edit');
    expect(gen.HEADER).toBe('// generated by scripts/gen-crd-types.mjs — do not edit');
  });

  test('is deterministic: the same text whatever order the CRDs are read in', () => {
    expect(gen.generate([...loaded].reverse())).toBe(gen.generate(loaded));
  });

  test('exports the group, version, kinds and names the CRDs declare', () => {
    expect([GROUP, VERSION, API_VERSION]).toEqual(['netflicks.dev', 'v1alpha1', 'netflicks.dev/v1alpha1']);
    expect([RECOMMENDER_MODEL_KIND, RECOMMENDER_MODEL_PLURAL, RECOMMENDER_MODEL_SINGULAR, RECOMMENDER_MODEL_CRD_NAME]).toEqual([
      'RecommenderModel',
      'recommendermodels',
      'recommendermodel',
      'recommendermodels.netflicks.dev',
    ]);
    expect([TRAINING_RUN_KIND, TRAINING_RUN_PLURAL, TRAINING_RUN_SINGULAR, TRAINING_RUN_CRD_NAME]).toEqual([
      'TrainingRun',
      'trainingruns',
      'trainingrun',
      'trainingruns.netflicks.dev',
    ]);
    expect(RECOMMENDER_MODEL_SHORT_NAMES).toEqual(['rm']);
    expect(TRAINING_RUN_SHORT_NAMES).toEqual(['tr']);
    expect(RECOMMENDER_MODEL_CATEGORIES).toEqual(['netflicks']);
    expect(TRAINING_RUN_CATEGORIES).toEqual(['netflicks']);
  });

  test('types the examples: examples/*.yaml parse to exactly these typed objects', async () => {
    // Object literals: tsc's excess-property checks catch a field the types do not know.
    const model: RecommenderModel = {
      apiVersion: 'netflicks.dev/v1alpha1',
      kind: 'RecommenderModel',
      metadata: { name: 'movies' },
      spec: {
        image: 'netflicks:latest',
        database: { secretRef: { name: 'netflicks-database' } },
        training: {
          algorithms: ['als', 'ials', 'content', 'popularity', 'hybrid'],
          hyperparameters: { factors: '64', 'als.regularization': '0.2', 'ials.alpha': '10' },
        },
        schedule: '0 3 * * *',
        validation: { maxRMSE: '1.0', minNDCGAt10: '0.02', maxRegression: '0.02', regressionMetrics: ['ndcgAt10'] },
        promotion: { policy: 'Automatic' },
        serving: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70 },
      },
    };
    const run: TrainingRun = {
      apiVersion: 'netflicks.dev/v1alpha1',
      kind: 'TrainingRun',
      metadata: { name: 'movies-manual-1' },
      spec: { modelRef: { name: 'movies' } },
    };
    const read = async (file: string) => gen.readYamlDocuments(await readFile(join(ROOT, 'examples', file), 'utf8'), file);
    expect(await read('recommendermodel.yaml')).toEqual([model]);
    expect(await read('trainingrun.yaml')).toEqual([run]);
    const [secret] = (await read('secret-database.yaml')) as { kind: string; metadata: { name: string }; stringData: Record<string, string> }[];
    expect(secret.kind).toBe('Secret');
    expect(secret.metadata.name).toBe(model.spec.database.secretRef.name);
    expect(Object.keys(secret.stringData)).toEqual(['url']); // the secretRef.key default
    expect(secret.stringData.url).toMatch(/^postgresql:\/\/netflicks:CHANGE-ME-placeholder@/);

    // A status as the operator writes it type-checks too.
    const status: TrainingRunStatus = {
      phase: 'Rejected',
      metrics: { rmse: '0.93', ndcgAt10: '0.011' },
      verdict: { outcome: 'failed', reasons: ['ndcgAt10 0.011 < minNDCGAt10 0.02'] },
      conditions: [{ type: 'Validated', status: 'False', reason: 'BelowThreshold', message: 'ndcgAt10 below threshold', lastTransitionTime: '2025-01-01T00:00:00Z' }],
    };
    expect(status.verdict?.outcome).toBe('failed');
  });
});

describe('CRD schemas', () => {
  test('both CRDs: group, version, scope, names, status subresource, structural schema', () => {
    for (const [crd, kind, plural, singular, shortName] of [
      [rmCrd, 'RecommenderModel', 'recommendermodels', 'recommendermodel', 'rm'],
      [trCrd, 'TrainingRun', 'trainingruns', 'trainingrun', 'tr'],
    ] as const) {
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.metadata.name).toBe(`${plural}.netflicks.dev`);
      expect(crd.spec.group).toBe('netflicks.dev');
      expect(crd.spec.scope).toBe('Namespaced');
      expect(crd.spec.names).toEqual({ kind, listKind: `${kind}List`, plural, singular, shortNames: [shortName], categories: ['netflicks'] });
      expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
      expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
      expect(rootOf(crd).required).toEqual(['spec']);
    }
  });

  test('every spec and status property has a description', () => {
    const missing: string[] = [];
    for (const crd of [rmCrd, trCrd]) {
      for (const part of ['spec', 'status']) {
        walk(at(crd, part), `${crd.spec.names.kind}.${part}`, (path, node) => {
          // Array items and map values are described by their parent property.
          if (!path.endsWith('[]') && !path.endsWith('{}') && !node.description?.trim()) missing.push(path);
        });
      }
    }
    expect(missing).toEqual([]);
  });

  test('RecommenderModel defaults', () => {
    const defaults: Record<string, unknown> = {};
    walk(at(rmCrd, 'spec'), 'spec', (path, node) => {
      if (node.default !== undefined) defaults[path] = node.default;
    });
    expect(defaults).toEqual({
      'spec.image': 'netflicks:latest',
      'spec.imagePullPolicy': 'IfNotPresent',
      'spec.database.secretRef.key': 'url',
      'spec.training': {},
      'spec.training.algorithms': ['als', 'ials', 'content', 'popularity', 'hybrid'],
      'spec.training.holdout': 'temporal',
      'spec.training.backoffLimit': 2,
      'spec.training.activeDeadlineSeconds': 3600,
      'spec.training.ttlSecondsAfterFinished': 86400,
      'spec.suspend': false,
      'spec.validation': {},
      'spec.promotion': {},
      'spec.promotion.policy': 'Automatic',
      'spec.serving': {},
      'spec.serving.minReplicas': 2,
      'spec.serving.maxReplicas': 5,
      'spec.serving.targetCPUUtilizationPercentage': 70,
      'spec.serving.port': 8082,
      'spec.historyLimits': {},
      'spec.historyLimits.successfulRuns': 5,
      'spec.historyLimits.failedRuns': 3,
      'spec.retention': {},
      'spec.retention.keepVersions': 10,
    });
  });

  test('TrainingRun overrides have no defaults (unset means: use the model\'s value)', () => {
    const defaults: string[] = [];
    walk(at(trCrd, 'spec'), 'spec', (path, node) => {
      if (node.default !== undefined) defaults.push(path);
    });
    expect(defaults).toEqual([]);
  });

  test('required fields', () => {
    expect(at(rmCrd, 'spec').required).toEqual(['database']);
    expect(at(rmCrd, 'spec.database').required).toEqual(['secretRef']);
    expect(at(rmCrd, 'spec.database.secretRef').required).toEqual(['name']);
    expect(at(trCrd, 'spec').required).toEqual(['modelRef']);
    expect(at(trCrd, 'spec.modelRef').required).toEqual(['name']);
    expect(at(trCrd, 'spec.modelRef.name').minLength).toBe(1);
    expect(at(trCrd, 'status.verdict').required).toEqual(['outcome']);
  });

  test('bounds', () => {
    const bounds = (crd: Crd, path: string) => {
      const n = at(crd, path);
      return [n.type, n.minimum, n.maximum];
    };
    expect(bounds(rmCrd, 'spec.training.backoffLimit')).toEqual(['integer', 0, 10]);
    expect(bounds(rmCrd, 'spec.training.activeDeadlineSeconds')).toEqual(['integer', 60, undefined]);
    expect(bounds(rmCrd, 'spec.training.ttlSecondsAfterFinished')).toEqual(['integer', 0, undefined]);
    expect(bounds(rmCrd, 'spec.startingDeadlineSeconds')).toEqual(['integer', 1, undefined]);
    expect(bounds(rmCrd, 'spec.serving.minReplicas')).toEqual(['integer', 1, 100]);
    expect(bounds(rmCrd, 'spec.serving.maxReplicas')).toEqual(['integer', 1, 100]);
    expect(bounds(rmCrd, 'spec.serving.targetCPUUtilizationPercentage')).toEqual(['integer', 1, 100]);
    // No requests-per-second mode: the HPA scales on CPU only (docs/monitoring.md says why).
    expect(at(rmCrd, 'spec.serving').properties?.targetRequestsPerSecond).toBeUndefined();
    expect(bounds(rmCrd, 'spec.serving.port')).toEqual(['integer', 1, 65535]);
    expect(bounds(rmCrd, 'spec.historyLimits.successfulRuns')).toEqual(['integer', 0, 100]);
    expect(bounds(rmCrd, 'spec.historyLimits.failedRuns')).toEqual(['integer', 0, 100]);
    expect(bounds(rmCrd, 'spec.retention.keepVersions')).toEqual(['integer', 1, undefined]);
    expect(at(rmCrd, 'spec.training.algorithms').minItems).toBe(1);
    expect(at(trCrd, 'spec.algorithms').minItems).toBe(1);
  });

  test('enums', () => {
    expect(at(rmCrd, 'spec.imagePullPolicy').enum).toEqual(['Always', 'IfNotPresent', 'Never']);
    expect(at(rmCrd, 'spec.training.algorithms').items?.enum).toEqual(ALGORITHMS);
    expect(at(trCrd, 'spec.algorithms').items?.enum).toEqual(ALGORITHMS);
    expect(at(rmCrd, 'spec.promotion.policy').enum).toEqual(['Automatic', 'Manual']);
    expect(at(trCrd, 'status.phase').enum).toEqual(['Pending', 'Running', 'Succeeded', 'Validated', 'Rejected', 'Promoted', 'Failed', 'NoNewData']);
    expect(at(trCrd, 'status.verdict.outcome').enum).toEqual(['passed', 'failed', 'inconclusive']);
    for (const crd of [rmCrd, trCrd]) {
      const conditions = at(crd, 'status.conditions');
      expect(conditions['x-kubernetes-list-type']).toBe('map');
      expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
      expect(conditions.items?.required).toEqual(['type', 'status', 'lastTransitionTime', 'reason', 'message']);
      expect(conditions.items?.properties?.status.enum).toEqual(['True', 'False', 'Unknown']);
    }
  });

  test('CEL rules and their messages', () => {
    expect(at(trCrd, 'spec')['x-kubernetes-validations']).toEqual([{ rule: 'self == oldSelf', message: 'TrainingRun spec is immutable; create a new TrainingRun' }]);
    expect(at(rmCrd, 'spec.serving')['x-kubernetes-validations']).toEqual([
      {
        // has() guards: the API server validates `default: {}` without filling nested defaults.
        rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas',
        message: 'serving.minReplicas must not exceed serving.maxReplicas',
      },
    ]);
    expect(at(rmCrd, 'spec.schedule')['x-kubernetes-validations']).toEqual([
      { rule: "self.split(' ').size() == 5", message: 'schedule must be a 5-field cron expression (minute hour day-of-month month day-of-week)' },
    ]);
    expect(Object.keys(at(rmCrd, 'spec.validation').properties ?? {})).toEqual([...THRESHOLDS, 'regressionMetrics']);
    for (const t of THRESHOLDS) {
      const node = at(rmCrd, `spec.validation.${t}`);
      expect([t, node.type, node['x-kubernetes-validations']]).toEqual([t, 'string', [DECIMAL_RULE]]);
      // No `pattern` as well: a bad value would then get two errors, the first a cryptic
      // "should match '^[0-9]+(\.[0-9]+)?$'" (test/k8s/crds.test.ts shows the single message).
      expect([t, node.pattern]).toEqual([t, undefined]);
      expect(node.maxLength).toBe(32); // bounds the rule's estimated cost
    }
    expect(at(rmCrd, 'spec.training.hyperparameters')['x-kubernetes-validations']).toEqual([HYPERPARAMETER_RULE]);
    expect(at(trCrd, 'spec.hyperparameters')['x-kubernetes-validations']).toEqual([HYPERPARAMETER_RULE]);
  });

  test('the rules\' regular expressions accept and refuse what they should', () => {
    const decimal = celRegex(DECIMAL_RULE.rule);
    expect(['0', '1.0', '0.95', '0.02', '12.5'].filter((s) => !decimal.test(s))).toEqual([]);
    expect(['', '.5', '1.', '-1', '1e-3', '0,5', 'abc', '0.9x'].filter((s) => decimal.test(s))).toEqual([]);

    const key = celRegex(HYPERPARAMETER_RULE.rule);
    // The trainer's keys (packages/contracts/src/hyperparameters.ts).
    expect(['factors', 'iterations', 'regularization', 'alpha', 'als.implicitRegularization', 'ials.cgSteps', 'hybrid.minHistory', 'hybrid.contentWeight'].filter((s) => !key.test(s))).toEqual([]);
    expect(['Factors', 'Bad Key', 'als.', '.alpha', 'als.reg.x', 'als_reg', 'als.reg1'].filter((s) => key.test(s))).toEqual([]);

    const holdout = new RegExp(at(rmCrd, 'spec.training.holdout').pattern ?? '(missing)');
    expect(at(trCrd, 'spec.holdout').pattern).toBe(at(rmCrd, 'spec.training.holdout').pattern);
    expect(['temporal', 'stratified', 'stratified:0.2', 'stratified:.25'].filter((s) => !holdout.test(s))).toEqual([]);
    expect(['random', 'temporal:0.2', 'stratified:1', 'stratified:', 'stratified:0.'].filter((s) => holdout.test(s))).toEqual([]);

    // The schedule rule, as CEL's split evaluates it.
    const fields = (s: string) => s.split(' ').length;
    expect([fields('0 3 * * *'), fields('*/15 * * * 1-5'), fields('0 3 * *'), fields('0 0 3 * * *'), fields('0  3 * * *')]).toEqual([5, 5, 4, 6, 6]);
  });

  test('quantities are int-or-string', () => {
    for (const path of ['spec.training.resources', 'spec.serving.resources']) {
      for (const side of ['requests', 'limits']) {
        const value = at(rmCrd, `${path}.${side}`).additionalProperties as Schema;
        expect([path, side, value['x-kubernetes-int-or-string']]).toEqual([path, side, true]);
      }
    }
  });

  test('printer columns', () => {
    const columns = (crd: Crd) => crd.spec.versions[0].additionalPrinterColumns.map((c) => [c.name, c.jsonPath, c.type, c.priority ?? 0]);
    expect(columns(rmCrd)).toEqual([
      ['Live', '.status.liveVersion', 'integer', 0],
      ['Previous', '.status.previousVersion', 'integer', 1],
      ['Ready', '.status.readyReplicas', 'integer', 0],
      ['Last Run', '.status.latestRun', 'string', 0],
      ['Endpoint', '.status.endpoint', 'string', 1],
      ['Age', '.metadata.creationTimestamp', 'date', 0],
    ]);
    expect(columns(trCrd)).toEqual([
      ['Model', '.spec.modelRef.name', 'string', 0],
      ['State', '.status.phase', 'string', 0],
      ['RMSE', '.status.metrics.rmse', 'string', 0],
      ['NDCG@10', '.status.metrics.ndcgAt10', 'string', 0],
      ['HR@10', '.status.metrics.hitRateAt10', 'string', 1],
      ['Version', '.status.modelVersion', 'integer', 0],
      ['Age', '.metadata.creationTimestamp', 'date', 0],
    ]);
  });
});

describe('scripts/gen-crd-types.mjs schema → TypeScript mapping', () => {
  const crd = (schemaYaml: string, extra = '') => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.dev}
spec:
  group: example.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
${schemaYaml
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
${extra}`;
  const generateFrom = (text: string) => gen.generate(gen.parseCrds(text, 'widgets.yaml'));
  /** The declarations after the Widget/WidgetList resource interfaces. */
  const declarations = (text: string) => {
    const out = generateFrom(text);
    return out.slice(out.indexOf('/** The widget. */\nexport interface WidgetSpec'));
  };

  test('objects, required, enums, maps, arrays, int-or-string, preserve-unknown-fields, nullable, JSDoc', () => {
    const text = crd(`type: object
required: [spec]
properties:
  apiVersion: {type: string}
  kind: {type: string}
  metadata: {type: object}
  spec:
    description: The widget.
    type: object
    required: [size]
    properties:
      size:
        description: An int or a string such as "50%".
        x-kubernetes-int-or-string: true
        anyOf: [{type: integer}, {type: string}]
      mode:
        type: string
        enum: [fast, slow]
        default: fast
      weights:
        type: object
        additionalProperties: {type: number}
      byZone:
        type: object
        additionalProperties:
          type: object
          required: [name]
          properties:
            name: {type: string}
      anything:
        type: object
        x-kubernetes-preserve-unknown-fields: true
      raw:
        x-kubernetes-preserve-unknown-fields: true
      extensible:
        type: object
        x-kubernetes-preserve-unknown-fields: true
        properties:
          known: {type: boolean}
      matrix:
        type: array
        items:
          type: array
          items: {type: integer, minimum: 0}
      levels:
        type: array
        items: {type: string, enum: [low, high]}
      note:
        description: "Ends a comment: */ must be escaped."
        type: string
        nullable: true
        pattern: '^a*/b$'
        x-kubernetes-validations:
          - rule: size(self) < 10
            message: too long
      dashed-key:
        type: boolean
      open:
        type: object
        additionalProperties: true`);
    expect(declarations(text)).toBe(`/** The widget. */
export interface WidgetSpec {
  /** An int or a string such as "50%". */
  size: number | string;
  /** @default "fast" */
  mode?: WidgetSpecMode;
  weights?: Record<string, number>;
  byZone?: Record<string, WidgetSpecByZoneValue>;
  anything?: Record<string, unknown>;
  raw?: unknown;
  extensible?: WidgetSpecExtensible;
  matrix?: number[][];
  levels?: WidgetSpecLevel[];
  /**
   * Ends a comment: *\\/ must be escaped.
   *
   * @pattern ^a*\\/b$
   * @validation size(self) < 10 ("too long")
   */
  note?: string | null;
  'dashed-key'?: boolean;
  open?: Record<string, unknown>;
}

/** Allowed values of Widget.spec.mode. */
export type WidgetSpecMode = 'fast' | 'slow';

export interface WidgetSpecByZoneValue {
  name: string;
}

export interface WidgetSpecExtensible {
  known?: boolean;
  /** Fields the schema does not declare are kept (x-kubernetes-preserve-unknown-fields). */
  [key: string]: unknown;
}

/** Allowed values of Widget.spec.levels.items. */
export type WidgetSpecLevel = 'low' | 'high';
`);
    const out = generateFrom(text);
    expect(out).toContain(`export interface Widget {
  apiVersion: 'example.dev/v1';
  kind: 'Widget';
  metadata: ObjectMeta;
  /** The widget. */
  spec: WidgetSpec;
}`);
    expect(out).toContain(`export const GROUP = 'example.dev';\nexport const VERSION = 'v1';\nexport const API_VERSION = 'example.dev/v1';`);
    expect(out).toContain(`export const WIDGET_KIND = 'Widget';\nexport const WIDGET_LIST_KIND = 'WidgetList';\nexport const WIDGET_PLURAL = 'widgets';\nexport const WIDGET_SINGULAR = 'widget';`);
  });

  test('refuses what it cannot map faithfully', () => {
    const spec = (body: string) => crd(`type: object
properties:
  spec:
${body
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}`);
    expect(() => generateFrom(spec('type: object\nproperties:\n  a: {type: object, properties: {x: {type: string}}, additionalProperties: {type: string}}'))).toThrow(
      'Widget.spec.a: properties and additionalProperties are mutually exclusive in a structural schema',
    );
    expect(() => generateFrom(spec('type: object\nproperties:\n  a: {type: date}'))).toThrow('Widget.spec.a: unsupported type "date"');
    expect(() => generateFrom(spec('type: object\nproperties:\n  a: {description: untyped}'))).toThrow('Widget.spec.a: no type');
    expect(() => generateFrom(spec('type: object\nrequired: [b]\nproperties:\n  a: {type: string}'))).toThrow('Widget.spec: required property b is not declared');
    expect(() => generateFrom(spec('type: object\nproperties:\n  a: {type: array}'))).toThrow('Widget.spec.a: an array needs a single items schema');
    expect(() => gen.parseCrds('apiVersion: v1\nkind: ConfigMap\n', 'cm.yaml')).toThrow('cm.yaml: expected an apiextensions.k8s.io/v1 CustomResourceDefinition, found v1/ConfigMap');
    expect(() => gen.parseCrds('a: 1\na: 2\n', 'dup.yaml')).toThrow('dup.yaml: Map keys must be unique');
    const twoVersions = crd('type: object', `    - name: v2
      served: true
      storage: false
      schema:
        openAPIV3Schema: {type: object}`);
    expect(() => generateFrom(twoVersions)).toThrow('widgets.yaml: the generator handles exactly one version per CRD, found 2');
  });

  test('reads YAML as kubectl does (YAML 1.1: yes is a boolean)', () => {
    expect(gen.readYamlDocuments('a: yes\nb: "yes"\n---\n---\nc: 0.10\n', 'x.yaml')).toEqual([{ a: true, b: 'yes' }, { c: 0.1 }]);
  });
});
