/**
 * Hot swaps through the worker-thread load path: the worker runs every content check and sends
 * the catalogue as JSON slices, the serving thread opens the checked sections without checking
 * them again. A corrupt bundle is refused with the same error as the synchronous path; during a
 * swap to it the real server keeps answering with the old model, logs one clear line and does not
 * crash; a good model then swaps in while requests keep flowing.
 */
import { EventEmitter } from 'node:events';
import { copyFile, rename } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { runInNewContext } from 'node:vm';
import { createLogger } from '@netflicks/platform';
import { FileCompactRows, FileHistory, encodeModelFile, type ContentModel, type ModelDocument } from '@netflicks/recsys';
import { loadApiConfig, runRecommendApi, ServingModel, type RunningApi } from '../src/index.js';
import { tempDir, trainTestModel, type TempDir, type TestModel } from './support.js';

let dir: TempDir;
let modelA: TestModel;
let modelB: TestModel;

/** The document with one section replaced by a modified copy; the checksum stays valid. */
function corrupt(doc: ModelDocument, name: string, edit: (a: Float32Array | Int32Array) => void): Buffer {
  const copy = (doc.sections[name] as Float32Array | Int32Array).slice();
  edit(copy);
  return encodeModelFile({ meta: doc.meta, sections: { ...doc.sections, [name]: copy } });
}

beforeAll(async () => {
  dir = await tempDir('netflicks-hot-swap-');
  modelA = await trainTestModel({ seed: 11 });
  modelB = await trainTestModel({ seed: 12 });
});

afterAll(async () => {
  await dir?.remove();
});

const identity = { name: 'm', version: null, source: 'file' as const };

test('the worker path serves the same catalogue and lists as the synchronous one', async () => {
  const sync = ServingModel.fromBytes(modelA.bytes, identity);
  const viaWorker = await ServingModel.load({ bytes: Buffer.from(modelA.bytes) }, identity, { worker: true });
  expect(viaWorker.identity).toEqual(sync.identity);
  // The catalogue crossed as JSON slices: every movie, in order, with every field.
  expect(viaWorker.bundle.meta.movies).toEqual(modelA.doc.meta.movies);
  for (const m of modelA.dataset.movies) {
    expect(viaWorker.bundle.movie(m.id)).toEqual(sync.bundle.movie(m.id));
    expect(viaWorker.itemJsonWithScore(m.id, 0.25)).toBe(sync.itemJsonWithScore(m.id, 0.25));
  }
  // Movies with equal genre lists share one frozen list.
  const genres = modelA.dataset.movies.map((m) => viaWorker.bundle.movie(m.id)?.genres);
  const distinct = new Set(genres.map((g) => JSON.stringify(g)));
  expect(new Set(genres).size).toBe(distinct.size);
  expect(distinct.size).toBeLessThan(genres.length);
  expect(genres.every((g) => Object.isFrozen(g))).toBe(true);
  const strategies = new Set<string>();
  for (const userId of modelA.dataset.ratings.user.slice(0, 200).filter((u, i, all) => all.indexOf(u) === i)) {
    const listed = viaWorker.engine.recommend({ userId, k: 10 });
    expect(listed).toEqual(sync.engine.recommend({ userId, k: 10 }));
    strategies.add(listed.strategy);
  }
  // The few-ratings blend too (co-occurrence's rater sample and the content profiles came from
  // the worker, built from the compact history): a new user and a training user with fresh ratings.
  const [a, b, c] = modelA.dataset.movies.map((m) => m.id);
  const extraRatings = [
    { movieId: a, rating: 5 },
    { movieId: b, rating: 2 },
    { movieId: c, rating: 4 },
  ];
  for (const userId of [999_999, modelA.dataset.ratings.user[0]]) {
    const listed = viaWorker.engine.recommend({ userId, k: 10, extraRatings });
    expect(listed).toEqual(sync.engine.recommend({ userId, k: 10, extraRatings }));
    strategies.add(listed.strategy);
  }
  expect([...strategies].sort()).toEqual(['cf', 'content']);
  expect(viaWorker.bundle.hybrid?.fewRatingsIndex).not.toBeNull();
  // The worker left out the content profiles (its histories give them): the serving copy builds
  // each from the user's row, with the stored profiles' scores.
  const [workerContent, syncContent] = [viaWorker, sync].map((m) => m.bundle.models.content as ContentModel);
  expect(syncContent.profilesBuiltFrom(sync.bundle.compactHistory)).toBe(true);
  expect(workerContent.profilesBuiltFrom(viaWorker.bundle.compactHistory)).toBe(false); // nothing stored to compare
  const [fromRows, stored] = [new Float32Array(workerContent.numItems), new Float32Array(syncContent.numItems)];
  for (let u = 0; u < syncContent.numUsers; u++) {
    workerContent.scoreUser(u, fromRows);
    syncContent.scoreUser(u, stored);
    expect(fromRows).toEqual(stored);
  }
});

test('the worker frees its leftovers before replying without exposing the collector to later contexts', async () => {
  expect(runInNewContext('typeof gc')).toBe('undefined');
  const viaWorker = await ServingModel.load({ bytes: Buffer.from(modelA.bytes) }, identity, { worker: true });
  expect(viaWorker.bundle.items.size).toBe(modelA.dataset.movies.length);
  // The worker sets --expose-gc for one context of its own and resets it: flags are the process's.
  expect(runInNewContext('typeof gc')).toBe('undefined');
});

test('a hot swap to a larger model (id maps, norm sort, popularity orders and kernel layout in many steps) serves what a cold load serves', async () => {
  // 20,000 users and 2,000 movies: more ids than one id-map step, more items than one build step.
  const big = await trainTestModel({ seed: 13, users: 20_000, movies: 2_000, ratings: 120_000, factors: 8, iterations: 2 });
  const cold = ServingModel.fromBytes(big.bytes, identity);
  const serving = await ServingModel.load({ bytes: Buffer.from(modelA.bytes) }, identity, { worker: true });
  // The serving thread's event loop keeps turning during the swap's load.
  let turns = 0;
  let loading = true;
  const spin = (): void => {
    turns++;
    if (loading) setImmediate(spin);
  };
  setImmediate(spin);
  const swapped = await ServingModel.load({ bytes: Buffer.from(big.bytes) }, identity, { worker: true, background: true });
  loading = false;
  expect(turns).toBeGreaterThan(20);
  expect(serving.bundle.items.size).toBe(modelA.dataset.movies.length);
  expect(swapped.identity).toEqual(cold.identity);
  expect(swapped.bundle.users.size).toBe(cold.bundle.users.size);
  expect(swapped.engine.scanKernel).toBe(cold.engine.scanKernel);
  const users = [...new Set(big.dataset.ratings.user.slice(0, 4000))].slice(0, 300);
  const strategies = new Set<string>();
  for (const userId of [...users, 999_999]) {
    const listed = swapped.engine.recommend({ userId, k: 10 });
    expect(listed).toEqual(cold.engine.recommend({ userId, k: 10 }));
    strategies.add(listed.strategy);
  }
  expect([...strategies].sort()).toEqual(['cf', 'popularity']);
  const genre = cold.engine.genres[0];
  for (const userId of users.slice(0, 30)) expect(swapped.engine.recommend({ userId, k: 10, genre })).toEqual(cold.engine.recommend({ userId, k: 10, genre }));
  for (const m of big.dataset.movies.slice(0, 100)) {
    expect(swapped.engine.similar(m.id, 10)).toEqual(cold.engine.similar(m.id, 10));
    expect(swapped.engine.movieStats(m.id)).toEqual(cold.engine.movieStats(m.id));
    expect(swapped.bundle.movie(m.id)).toEqual(cold.bundle.movie(m.id));
  }
}, 120_000);

test('with historyInFile, a history smaller than historyInFileMinBytes stays in memory and serves the same lists', async () => {
  const path = await dir.write('small-history.nflx', modelA.bytes);
  const kept = await ServingModel.load({ path }, identity, { worker: true, historyInFile: true, historyInFileMinBytes: 64 * 1024 * 1024 });
  const read = await ServingModel.load({ path }, identity, { worker: true, historyInFile: true, historyInFileMinBytes: 1 });
  expect(kept.bundle.compactHistory).not.toBeInstanceOf(FileHistory);
  expect(read.bundle.compactHistory).toBeInstanceOf(FileHistory);
  for (const userId of [...new Set(modelA.dataset.ratings.user)].slice(0, 100)) {
    expect(kept.engine.recommend({ userId, k: 10 })).toEqual(read.engine.recommend({ userId, k: 10 }));
  }
});

test('history rows read from the model file serve what the compact history serves, after the file is renamed over too', async () => {
  const path = await dir.write('history-in-file.nflx', modelA.bytes);
  const compact = await ServingModel.load({ path }, identity, { worker: true });
  const inFile = await ServingModel.load({ path }, identity, { worker: true, historyInFile: true });
  expect(inFile.bundle.compactHistory).toBeInstanceOf(FileHistory);
  expect(compact.bundle.compactHistory).not.toBeInstanceOf(FileHistory);
  // The few-ratings index's rater sample goes where the history goes.
  expect(inFile.bundle.hybrid?.fewRatingsIndex?.sample).toBeInstanceOf(FileCompactRows);
  expect(compact.bundle.hybrid?.fewRatingsIndex?.sample).toHaveProperty('bytes');
  // A deploy renames another file over the path: the open descriptor still reads the verified one.
  await rename(await dir.write('other.nflx', modelB.bytes), path);
  const [a, b, c] = modelA.dataset.movies.map((m) => m.id);
  const extraRatings = [
    { movieId: a, rating: 5 },
    { movieId: b, rating: 2 },
    { movieId: c, rating: 4 },
  ];
  const strategies = new Set<string>();
  for (const userId of [...new Set(modelA.dataset.ratings.user)]) {
    const listed = inFile.engine.recommend({ userId, k: 10 });
    expect(listed).toEqual(compact.engine.recommend({ userId, k: 10 }));
    expect(inFile.engine.recommend({ userId, k: 10, extraRatings })).toEqual(compact.engine.recommend({ userId, k: 10, extraRatings }));
    strategies.add(listed.strategy);
  }
  const fewRatings = inFile.engine.recommend({ userId: 999_999, k: 10, extraRatings });
  expect(fewRatings).toEqual(compact.engine.recommend({ userId: 999_999, k: 10, extraRatings }));
  expect([...strategies, fewRatings.strategy].sort()).toEqual(['cf', 'content']);
  expect(inFile.bundle.trainingData().byUser.indices).toEqual(compact.bundle.trainingData().byUser.indices);
});

test('a bundle that fails a content check is refused by the worker with the synchronous path\'s error', async () => {
  const cases: [Buffer, RegExp][] = [
    [corrupt(modelA.doc, 'ials.userFactors', (a) => (a[5] = Number.POSITIVE_INFINITY)), /section "ials\.userFactors" has a non-finite value \(Infinity\) at element 5/],
    [corrupt(modelA.doc, 'history.indices', (a) => (a[3] = 1 << 20)), /section "history\.indices" has index 1048576/],
    [corrupt(modelA.doc, 'history.data', (a) => (a[0] = -2)), /history\.data/],
  ];
  for (const [bytes, reason] of cases) {
    let syncError: unknown;
    try {
      ServingModel.fromBytes(bytes, identity);
    } catch (err) {
      syncError = err;
    }
    expect(syncError).toBeInstanceOf(Error);
    expect((syncError as Error).message).toMatch(reason);
    const workerError = await ServingModel.load({ bytes: Buffer.from(bytes) }, identity, { worker: true }).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(workerError?.name).toBe('BundleError');
    expect(workerError?.message).toBe((syncError as Error).message);
  }
});

test('during a hot swap to a corrupt bundle the server keeps answering with the old model, logs why, and then swaps to a good one', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ component: 'hot-swap-test', level: 'info', destination: sink });
  await copyFile(await dir.write('a.nflx', modelA.bytes), dir.file('serving.nflx'));
  const config = loadApiConfig({ MODEL_FILE: dir.file('serving.nflx'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
  const api: RunningApi = await runRecommendApi(config, { logger, exit: () => undefined, signalSource: new EventEmitter() as never });
  const users = [...new Set(modelA.dataset.ratings.user.slice(0, 400))].slice(0, 8);
  const body = async (userId: number): Promise<{ status: number; items: unknown }> => {
    const res = await fetch(`${api.url}/recommend/${userId}?k=5`);
    const json = (await res.json()) as { items?: unknown };
    return { status: res.status, items: json.items };
  };
  try {
    const before = await Promise.all(users.map(body));
    expect(before.every((b) => b.status === 200)).toBe(true);

    // Requests in flight for the whole swap attempt.
    let swapping = true;
    const during: { status: number; items: unknown; user: number }[] = [];
    const traffic = (async () => {
      for (let j = 0; swapping; j++) {
        const user = users[j % users.length];
        during.push({ ...(await body(user)), user });
      }
    })();
    await dir.write('next.tmp', corrupt(modelA.doc, 'ials.itemFactors', (a) => (a[0] = Number.NaN)));
    await rename(dir.file('next.tmp'), dir.file('serving.nflx'));
    const swapped = await api.source.refresh('test');
    swapping = false;
    await traffic;

    expect(swapped).toBe(false);
    expect(during.length).toBeGreaterThan(0);
    for (const d of during) expect(d).toEqual({ ...before[users.indexOf(d.user)], user: d.user });
    const failure = lines.find((l) => l.msg === 'model file reload failed; still serving the previous model');
    expect(failure).toBeDefined();
    expect(JSON.stringify(failure)).toMatch(/section \\"ials\.itemFactors\\" has a non-finite value \(NaN\) at element 0/);
    expect(api.source.lastError).toMatch(/^cannot load model file .*: section "ials\.itemFactors" has a non-finite value \(NaN\) at element 0$/);
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);

    // A good model swaps in under the same traffic; every answer is a 200 from one model or the other.
    swapping = true;
    during.length = 0;
    const traffic2 = (async () => {
      for (let j = 0; swapping; j++) {
        const user = users[j % users.length];
        during.push({ ...(await body(user)), user });
      }
    })();
    await dir.write('next.tmp', modelB.bytes);
    await rename(dir.file('next.tmp'), dir.file('serving.nflx'));
    expect(await api.source.refresh('test')).toBe(true);
    swapping = false;
    await traffic2;
    expect(during.every((d) => d.status === 200)).toBe(true);
    expect(lines.some((l) => l.msg === 'model swapped')).toBe(true);
    const after = ServingModel.fromBytes(modelB.bytes, identity);
    const served = await body(users[0]);
    expect(served.items).toEqual(JSON.parse(`[${after.engine.recommend({ userId: users[0], k: 5 }).items.map((it) => after.itemJsonWithScore(it.movieId, it.score)).join(',')}]`));
  } finally {
    await api.stop();
  }
});
