/**
 * A registry artifact spooled to a file: its history is read from the file, it serves what the
 * in-memory load serves, nothing is left in the spool directory, and an unwritable spool falls
 * back to the in-memory load with a warning.
 */
import { readdir } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { createLogger } from '@netflicks/platform';
import { FileHistory } from '@netflicks/recsys';
import { ServingModel } from '../src/index.js';
import { loadSpooled } from '../src/model/spooled-load.js';
import { tempDir, trainTestModel, type TempDir, type TestModel } from './support.js';

let dir: TempDir;
let model: TestModel;

beforeAll(async () => {
  dir = await tempDir('netflicks-spool-');
  model = await trainTestModel({ seed: 21 });
});

afterAll(async () => {
  await dir?.remove();
});

const identity = { name: 'm', version: 3, source: 'registry' as const };
const load = (from: { path: string } | { bytes: Buffer }) => ServingModel.load(from, identity, { worker: true, historyInFile: 'path' in from });

test('a spooled artifact reads its history from the file, serves what the in-memory load serves, and leaves no file behind', async () => {
  let fetched = 0;
  const spooled = await loadSpooled(async () => {
    fetched++;
    return Buffer.from(model.bytes);
  }, dir.path, load);
  const inMemory = await load({ bytes: Buffer.from(model.bytes) });
  expect(fetched).toBe(1);
  expect(spooled.bundle.compactHistory).toBeInstanceOf(FileHistory);
  expect(inMemory.bundle.compactHistory).not.toBeInstanceOf(FileHistory);
  expect(spooled.identity.sha256).toBe(inMemory.identity.sha256);
  expect(await readdir(dir.path)).toEqual([]);
  const users = [...new Set(model.dataset.ratings.user)];
  expect(users.length).toBeGreaterThan(50);
  for (const userId of users) expect(spooled.engine.recommend({ userId, k: 10 })).toEqual(inMemory.engine.recommend({ userId, k: 10 }));
}, 60_000);

test('an unwritable spool directory loads the bytes from memory and says why', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ component: 'spool-test', level: 'info', destination: sink });
  const served = await loadSpooled(async () => Buffer.from(model.bytes), dir.file('no-such-dir'), load, { logger });
  expect(served.bundle.compactHistory).not.toBeInstanceOf(FileHistory);
  expect(served.engine.recommend({ userId: model.dataset.ratings.user[0], k: 5 }).items).toHaveLength(5);
  const warning = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).find((l) => l.level === 'warn');
  expect(warning?.msg).toBe('cannot spool the model artifact to a file; its history is held in memory');
}, 60_000);

test('an artifact smaller than minBytes is loaded from memory without a spool', async () => {
  const from: string[] = [];
  const served = await loadSpooled(async () => Buffer.from(model.bytes), dir.path, (f) => (from.push('path' in f ? 'path' : 'bytes'), load(f)), { minBytes: model.bytes.byteLength + 1 });
  expect(from).toEqual(['bytes']);
  expect(served.bundle.compactHistory).not.toBeInstanceOf(FileHistory);
  expect(await readdir(dir.path)).toEqual([]);
}, 60_000);
