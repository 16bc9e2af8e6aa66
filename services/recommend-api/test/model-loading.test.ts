/**
 * The real server refuses corrupt, oversized and (with a public key configured) unsigned or
 * wrongly signed model files with one clear line: at start-up the API does not start; following
 * the registry it stays not ready with the reason; on a hot swap it keeps serving the previous
 * model and reports the reason.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { copyFile, rename, writeFile } from 'node:fs/promises';
import { compressArtifact, promoteModelVersion, registerModelVersion } from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { encodeModelFile, type ModelDocument } from '@netflicks/recsys';
import { describePostgres } from '../../../test/support/postgres.js';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { tempDir, trainTestModel, type TempDir, type TestModel } from './support.js';

const logger = createLogger({ component: 'model-loading-test', level: 'silent' });

let dir: TempDir;
let modelA: TestModel;
let modelB: TestModel;
const trainer = generateKeyPairSync('ed25519');
const intruder = generateKeyPairSync('ed25519');

/** The API on a model file, or (modelPath null) on what `env` says. */
function start(modelPath: string | null, env: Record<string, string> = {}): Promise<RunningApi> {
  const source = modelPath !== null ? { MODEL_FILE: modelPath } : {};
  const config = loadApiConfig({ ...source, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  return runRecommendApi(config, { logger, exit: () => undefined, signalSource: new EventEmitter() as never });
}

/** The document with one section replaced by a modified copy; the checksum stays valid. */
function corrupt(doc: ModelDocument, name: string, edit: (a: Float32Array | Int32Array) => void): Buffer {
  const copy = (doc.sections[name] as Float32Array | Int32Array).slice();
  edit(copy);
  return encodeModelFile({ meta: doc.meta, sections: { ...doc.sections, [name]: copy } });
}

async function recommend(api: RunningApi, userId: number): Promise<{ status: number; movies: number[] }> {
  const res = await fetch(`${api.url}/recommend/${userId}?k=5`);
  const body = (await res.json()) as { items?: { movieId: number }[] };
  return { status: res.status, movies: (body.items ?? []).map((i) => i.movieId) };
}

async function failedLoads(api: RunningApi): Promise<number> {
  const text = await (await fetch(`${api.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('recommend_model_loads_total{result="failure"'));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Replaces the served file atomically, as a deploy would, and asks the API to reload it. */
async function deploy(api: RunningApi, bytes: Buffer): Promise<boolean> {
  await dir.write('next.tmp', bytes);
  await rename(dir.file('next.tmp'), dir.file('serving.nflx'));
  return api.source.refresh('test');
}

beforeAll(async () => {
  dir = await tempDir('netflicks-model-loading-');
  modelA = await trainTestModel({ seed: 7 });
  modelB = await trainTestModel({ seed: 8 });
  await writeFile(dir.file('trainer.pub'), trainer.publicKey.export({ type: 'spki', format: 'pem' }));
});

afterAll(async () => {
  await dir?.remove();
});

test('a corrupt model at start-up: the API does not start, and says which file and section', async () => {
  const path = await dir.write('minus-one.nflx', corrupt(modelA.doc, 'history.indices', (a) => a.fill(-1)));
  await expect(start(path)).rejects.toThrow(`cannot load model file ${path}: section "history.indices" has index -1 at entry 0, outside 0..`);
});

test('a hot swap to a refused model keeps the previous one serving, with the reason reported', async () => {
  await copyFile(await dir.write('a.nflx', modelA.bytes), dir.file('serving.nflx'));
  const api = await start(dir.file('serving.nflx'));
  try {
    const user = modelA.dataset.ratings.user[0];
    const before = await recommend(api, user);
    expect(before.status).toBe(200);
    expect(before.movies).toHaveLength(5);
    const servedSha = api.holder.current!.identity.sha256;

    const refusals: [Buffer, RegExp][] = [
      [corrupt(modelA.doc, 'ials.itemFactors', (a) => (a[0] = Number.NaN)), /section "ials\.itemFactors" has a non-finite value \(NaN\) at element 0/],
      [corrupt(modelA.doc, 'history.indices', (a) => a.fill(-1)), /section "history\.indices" has index -1/],
      [encodeModelFile({ meta: { ...modelA.doc.meta, blob: 'x'.repeat(40 * 1024 * 1024) }, sections: modelA.doc.sections }), /header of \d+ bytes exceeds the 33554432-byte limit/],
      [Buffer.concat([modelB.bytes, Buffer.alloc(4096)]), /model file has 4096 unexpected bytes after its declared end/],
    ];
    let failures = await failedLoads(api);
    for (const [bytes, reason] of refusals) {
      expect(await deploy(api, bytes)).toBe(false);
      expect(api.source.lastError).toMatch(reason);
      expect(api.source.lastError).toMatch(new RegExp(`^cannot load model file ${dir.file('serving.nflx').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(api.source.lastError).not.toContain('\n');
      expect(await failedLoads(api)).toBe(++failures);
      expect(api.holder.current!.identity.sha256).toBe(servedSha);
      expect(await recommend(api, user)).toEqual(before);
      expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
    }
    // A good model swaps in and clears the reason.
    expect(await deploy(api, modelB.bytes)).toBe(true);
    expect(api.source.lastError).toBeNull();
  } finally {
    await api.stop();
  }
});

describe('with MODEL_PUBLIC_KEY_FILE', () => {
  const signed = (m: TestModel, key: KeyObject): Buffer => encodeModelFile(m.doc, { signingKey: key });

  test('an unsigned model is refused at start-up', async () => {
    const path = await dir.write('unsigned.nflx', modelA.bytes);
    await expect(start(path, { MODEL_PUBLIC_KEY_FILE: dir.file('trainer.pub') })).rejects.toThrow(
      `cannot load model file ${path}: model file is not signed and a model public key is configured`,
    );
  });

  test('a signed model serves; one signed by another key is refused on swap; a newly signed one swaps in', async () => {
    await dir.write('serving.nflx', signed(modelA, trainer.privateKey));
    const api = await start(dir.file('serving.nflx'), { MODEL_PUBLIC_KEY_FILE: dir.file('trainer.pub') });
    try {
      const user = modelA.dataset.ratings.user[0];
      const before = await recommend(api, user);
      expect(before.status).toBe(200);
      expect(await deploy(api, signed(modelB, intruder.privateKey))).toBe(false);
      expect(api.source.lastError).toMatch(/: model signature does not match the configured public key$/);
      expect(await deploy(api, modelB.bytes)).toBe(false);
      expect(api.source.lastError).toMatch(/: model file is not signed and a model public key is configured$/);
      expect(await recommend(api, user)).toEqual(before);
      expect(await deploy(api, signed(modelB, trainer.privateKey))).toBe(true);
      expect(api.source.lastError).toBeNull();
    } finally {
      await api.stop();
    }
  });

  test('a key file that is not an Ed25519 public key stops start-up with a clear error', async () => {
    const path = await dir.write('a.nflx', modelA.bytes);
    await writeFile(dir.file('bad.pub'), 'not a key');
    await expect(start(path, { MODEL_PUBLIC_KEY_FILE: dir.file('bad.pub') })).rejects.toThrow(`${dir.file('bad.pub')}: not a PEM public key`);
  });
});

await describePostgres('refused models in the registry', (db) => {
  /** Registers model-file bytes as the next version of "guarded" and makes it live. */
  async function promote(bytes: Buffer): Promise<number> {
    const data = { watermark: null, fingerprint: '0'.repeat(64), ratings: 1, users: 1, movies: 1 };
    const input = { modelName: 'guarded', algorithms: ['hybrid'], hyperparameters: {}, holdout: 'none', data, metrics: {}, actor: 'test' };
    const { version } = await registerModelVersion(db.pool, input, await compressArtifact(bytes));
    await promoteModelVersion(db.pool, 'guarded', version, { actor: 'test', force: true });
    return version;
  }

  async function readyz(api: RunningApi): Promise<{ status: number; body: { status: string; reason?: string } }> {
    const res = await fetch(`${api.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  }

  test('following: a refused live version keeps the API not ready with the reason, and a refused promotion keeps the previous model serving', async () => {
    await promote(corrupt(modelA.doc, 'history.indices', (a) => a.fill(-1)));
    const api = await start(null, { MODEL_NAME: 'guarded', DATABASE_URL: db.url, FRESH_RATINGS: 'false' });
    try {
      const notReady = await readyz(api);
      expect(notReady.status).toBe(503);
      expect(notReady.body.reason).toMatch(/^cannot load the live version of "guarded": section "history\.indices" has index -1 at entry 0/);
      const good = await promote(modelA.bytes);
      expect(await api.source.refresh('test')).toBe(true);
      expect(api.holder.current?.identity.version).toBe(good);
      expect((await readyz(api)).status).toBe(200);
      await promote(corrupt(modelA.doc, 'ials.userFactors', (a) => (a[7] = Infinity)));
      expect(await api.source.refresh('test')).toBe(false);
      expect(api.source.lastError).toMatch(/section "ials\.userFactors" has a non-finite value \(Infinity\) at element 7/);
      expect(api.holder.current?.identity.version).toBe(good);
      expect((await readyz(api)).status).toBe(200);
      expect((await recommend(api, modelA.dataset.ratings.user[0])).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});
