/**
 * Test fixtures: a real hybrid model file trained on a small synthetic world (implicit ALS,
 * content and popularity), cached per test file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '@netflicks/data';
import { compressArtifact, registerModelVersion } from '@netflicks/db';
import type pg from 'pg';
import {
  buildTrainingData,
  createBundle,
  encodeModelFile,
  fingerprintRatings,
  trainContent,
  trainIals,
  trainPopularity,
  type Dataset,
  type ModelDocument,
} from '@netflicks/recsys';

export interface TestModel {
  dataset: Dataset;
  doc: ModelDocument;
  bytes: Buffer;
  /** Largest rating timestamp in the training data (epoch seconds). */
  maxTimestamp: number;
}

export interface TestModelOptions {
  users?: number;
  movies?: number;
  ratings?: number;
  seed?: number;
  factors?: number;
  iterations?: number;
  /** Users dropped from the training data (new users for fold-in tests). */
  holdOutUsers?: readonly number[];
  /** New titles by movie id, chosen from the generated dataset (e.g. a title longer than a screen). */
  titles?: (dataset: Dataset) => Record<number, string>;
}

export async function trainTestModel(opts: TestModelOptions = {}): Promise<TestModel> {
  const generated = generateSynthetic({
    users: opts.users ?? 200,
    movies: opts.movies ?? 300,
    ratings: opts.ratings ?? 8000,
    seed: opts.seed ?? 7,
    name: 'synthetic-test',
  }).dataset;
  const titles = opts.titles?.(generated) ?? {};
  const dataset: Dataset = { ...generated, movies: generated.movies.map((m) => (titles[m.id] === undefined ? m : { ...m, title: titles[m.id] })) };
  let ratings = dataset.ratings;
  if (opts.holdOutUsers && opts.holdOutUsers.length > 0) {
    const drop = new Set(opts.holdOutUsers);
    const keep: number[] = [];
    for (let r = 0; r < ratings.length; r++) if (!drop.has(ratings.user[r])) keep.push(r);
    ratings = {
      length: keep.length,
      user: Int32Array.from(keep, (r) => dataset.ratings.user[r]),
      item: Int32Array.from(keep, (r) => dataset.ratings.item[r]),
      rating: Float32Array.from(keep, (r) => dataset.ratings.rating[r]),
      timestamp: Float64Array.from(keep, (r) => dataset.ratings.timestamp[r]),
    };
  }
  const data = buildTrainingData(ratings, dataset.movies);
  const ials = await trainIals(data, { factors: opts.factors ?? 16, iterations: opts.iterations ?? 6, threads: 1, seed: 3 });
  const doc = createBundle(data, { ials, content: trainContent(data), popularity: trainPopularity(data) }, {
    // CF from 5 ratings (the default is 20): the routes are exercised on a small synthetic world.
    hybrid: { minHistory: 5 },
    info: { dataset: 'synthetic-test' },
    createdAt: new Date('2024-01-01T00:00:00Z'),
  });
  return { dataset, doc, bytes: encodeModelFile(doc), maxTimestamp: data.maxTimestamp };
}

/** Registers `model` as a new version of the registry model "movies"; returns its version. */
export async function registerTestModel(pool: pg.Pool, model: TestModel): Promise<number> {
  const record = await registerModelVersion(
    pool,
    {
      modelName: 'movies',
      algorithms: ['hybrid'],
      hyperparameters: {},
      holdout: 'none',
      data: { watermark: new Date(model.maxTimestamp * 1000), fingerprint: fingerprintRatings(model.dataset.ratings), ratings: model.dataset.ratings.length, users: 200, movies: 300 },
      metrics: {},
      actor: 'test',
    },
    await compressArtifact(model.bytes),
  );
  return record.version;
}

export interface TempDir {
  path: string;
  file(name: string): string;
  write(name: string, bytes: Buffer): Promise<string>;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'netflicks-api-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    async write(name, bytes) {
      const p = join(path, name);
      await writeFile(p, bytes);
      return p;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

// ---------------------------------------------------------------------------------------------
// A small JSON-schema checker for the subset the OpenAPI document uses (type, enum, required,
// properties, items, maxItems, minimum, maximum, minLength, maxLength, allOf, $ref), so tests can
// check real responses against the published document.

type Schema = Record<string, unknown>;

export function schemaErrors(doc: Schema, schema: Schema, value: unknown, path = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((node, key) => (node as Schema)[key], doc) as Schema;
    return schemaErrors(doc, target, value, path);
  }
  const errors: string[] = [];
  if (Array.isArray(schema.allOf)) for (const s of schema.allOf as Schema[]) errors.push(...schemaErrors(doc, s, value, path));
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'number' && Number.isInteger(value) ? 'integer' : typeof value;
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok) return [...errors, `${path}: expected ${types.join('|')}, got ${actual}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: above maximum`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errors.push(`${path}: too short`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) errors.push(`${path}: too long`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) errors.push(`${path}: too many items`);
    if (schema.items) value.forEach((v, i) => errors.push(...schemaErrors(doc, schema.items as Schema, v, `${path}[${i}]`)));
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in obj)) errors.push(`${path}: missing ${key}`);
    const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const [key, s] of Object.entries(props)) if (key in obj) errors.push(...schemaErrors(doc, s, obj[key], `${path}.${key}`));
  }
  return errors;
}

/** The response schema the document gives for a path template, method and status. */
export function responseSchema(doc: Schema, pathTemplate: string, status: number): Schema {
  const op = ((doc.paths as Schema)[pathTemplate] as Schema).get as Schema;
  const response = (op.responses as Schema)[String(status)] as Schema | undefined;
  if (!response) throw new Error(`the document has no ${status} response for ${pathTemplate}`);
  return ((response.content as Schema)['application/json'] as Schema).schema as Schema;
}

/** One evaluated hour of an online evaluation series, as the evaluator would have written it. */
export interface OnlineHour {
  windowSeconds?: number;
  hour: string;
  version: string;
  strategy: string;
  requests: number;
  hits: number;
  served: number;
  engaged: number;
}

/** Writes evaluated hours (minimum watch 600 s; window 24 h unless given) with their series' watermarks. */
export async function insertOnlineHours(pool: pg.Pool, hours: readonly OnlineHour[]): Promise<void> {
  const windows = [...new Set(hours.map((h) => h.windowSeconds ?? 86400))];
  await pool.query(
    `INSERT INTO online_evaluation_watermarks (window_seconds, min_watch_seconds, bucket_seconds, evaluated_until)
     SELECT w, 600, 3600, now() FROM unnest($1::int[]) AS w ON CONFLICT DO NOTHING`,
    [windows],
  );
  for (const h of hours) {
    const start = new Date(h.hour);
    await pool.query(
      `INSERT INTO online_evaluation_results (window_seconds, min_watch_seconds, bucket_start, bucket_end, model_version, strategy, requests, hits, items_served, items_engaged)
       VALUES ($1, 600, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [h.windowSeconds ?? 86400, start, new Date(start.getTime() + 3_600_000), h.version, h.strategy, h.requests, h.hits, h.served, h.engaged],
    );
  }
}
