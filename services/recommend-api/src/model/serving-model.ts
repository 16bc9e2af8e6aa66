/**
 * A model ready to serve: the opened bundle, its serving engine, and where it came from (name,
 * version, data watermark). Immutable; a hot swap replaces the whole object, so a request that
 * captured one model at its start uses that model to its end.
 *
 * Two ways in: fromBytes() does everything synchronously (tests, tools); load() is what a
 * serving process uses, because it runs next to live traffic: the file read, hashing, decoding
 * and every content check happen on a worker thread, and the rest (parsing the catalogue,
 * opening the checked bundle, building the engine) on the serving thread in steps of a few
 * milliseconds with a turn of the event loop between them, so requests keep being answered
 * during a hot swap (docs/benchmarks.md has the measurements).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  CompactHistory,
  FileCompactRows,
  FileHistory,
  IalsModel,
  decodeModelFile,
  loadModelFile,
  openBundle,
  openBundleInSteps,
  type CompactHistoryParts,
  type ModelDocument,
  type RaterSampleParts,
} from '@netflicks/recsys';
import { ServingEngine, type EngineOptions } from '../engine/engine.js';
import type { DecodeJob, DecodeReply } from './decode-worker.js';
import { ItemJsonTable } from './item-json.js';

export type ModelSourceKind = 'file' | 'registry';

export interface ModelIdentity {
  name: string;
  /** Registry version; null for a model file. */
  version: number | null;
  source: ModelSourceKind;
  /** sha256 of the model-file bytes served. */
  sha256: string;
  /**
   * The newest rating time the model was trained on: ratings after it are "fresh" and folded in at
   * request time. Null: unknown, so every stored rating of the user counts as fresh.
   */
  dataWatermark: Date | null;
}

export type IdentityInput = Omit<ModelIdentity, 'sha256' | 'dataWatermark'> & { dataWatermark?: Date | null };

export interface LoadOptions {
  engine?: EngineOptions;
  /** Decode on a worker thread (default true); false decodes on the calling thread. */
  worker?: boolean;
  /**
   * The worker yields the CPU to the calling thread (default true: a swap, next to live traffic);
   * false for a first load, which has no traffic to protect.
   */
  background?: boolean;
  /** Accept only models signed by the matching Ed25519 private key. */
  publicKey?: KeyObject;
  /**
   * A model file's history ratings are read from the file when a request needs them (the rows'
   * item indices stay in memory, compacted) instead of being held in memory (default false here; the service's MODEL_HISTORY_IN_FILE,
   * default true, decides for a MODEL_FILE: docs/benchmarks.md, issue 19); the worker load only.
   */
  historyInFile?: boolean;
  /** With historyInFile: a history whose compact form is smaller stays in memory (default 0). */
  historyInFileMinBytes?: number;
}

export class ServingModel {
  readonly loadedAt = new Date();
  private modelRefJson: string | undefined;
  /** `"strategy":…,"model":…,` by strategy (a fixed set), for list bodies. */
  private readonly listFieldsJson = new Map<string, string>();
  /** The catalogue's JSON as bytes, for list bodies (built with the model: see item-json.ts). */
  readonly itemJson: ItemJsonTable;

  constructor(
    readonly identity: ModelIdentity,
    readonly engine: ServingEngine,
    itemJson?: ItemJsonTable,
  ) {
    this.itemJson = itemJson ?? ItemJsonTable.build(engine.bundle);
  }

  /** Decodes, opens and indexes model-file bytes, all synchronously (CPU-bound: the caller times it). */
  static fromBytes(bytes: Buffer, identity: IdentityInput, opts: Pick<LoadOptions, 'engine' | 'publicKey'> = {}): ServingModel {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const doc = decodeModelFile(bytes, { publicKey: opts.publicKey });
    return ServingModel.assemble(doc, sha256, identity, new ServingEngine(openBundle(doc), opts.engine));
  }

  /**
   * Loads a model file (a path) or model-file bytes without holding the event loop for long:
   * decoding on a worker thread, then the bundle and engine in steps. The bytes, when given, are
   * moved to the worker (the caller must not use them afterwards).
   */
  static async load(from: { path: string } | { bytes: Buffer }, identity: IdentityInput, opts: LoadOptions = {}): Promise<ServingModel> {
    let doc: ModelDocument;
    let sha256: string;
    let validated = false;
    let history: CompactHistoryParts | FileHistory | undefined;
    let foldInGram: Float64Array | null = null;
    let fewRatingsIndex: RaterSampleParts | null = null;
    const turn = timeSlicer(SLICE_MS);
    const script = opts.worker === false ? null : decodeWorkerUrl();
    if (script) {
      const job = { publicKey: opts.publicKey, yieldCpu: opts.background ?? true, historyInFile: opts.historyInFile ?? false, historyInFileMinBytes: opts.historyInFileMinBytes ?? 0 };
      ({ doc, sha256, history, foldInGram, fewRatingsIndex } = await decodeOnWorker(script, from, job, turn));
      validated = true;
    } else if ('path' in from) {
      ({ doc, sha256 } = await loadModelFile(from.path, { publicKey: opts.publicKey }));
    } else {
      sha256 = createHash('sha256').update(from.bytes).digest('hex');
      await turn();
      doc = decodeModelFile(from.bytes, { publicKey: opts.publicKey });
    }
    await turn();
    const bundle = await openBundleInSteps(doc, turn, { validated, history });
    const ials = bundle.models.ials;
    if (foldInGram && ials instanceof IalsModel) ials.adoptFoldInGram(foldInGram);
    if (fewRatingsIndex && bundle.hybrid) bundle.hybrid.adoptFewRatingsIndex(fewRatingsIndex);
    await turn();
    const engine = await ServingEngine.create(bundle, opts.engine, turn);
    return ServingModel.assemble(doc, sha256, identity, engine, await ItemJsonTable.buildInSteps(bundle, turn));
  }

  private static assemble(doc: ModelDocument, sha256: string, identity: IdentityInput, engine: ServingEngine, itemJson?: ItemJsonTable): ServingModel {
    const watermark = identity.dataWatermark !== undefined ? identity.dataWatermark : watermarkFromMeta(doc.meta.maxTimestamp);
    return new ServingModel({ ...identity, sha256, dataWatermark: watermark }, engine, itemJson);
  }

  get bundle() {
    return this.engine.bundle;
  }

  /** The label recommendation-request events carry: the registry version, or the file's hash. */
  get versionLabel(): string {
    return this.identity.version !== null ? String(this.identity.version) : `file-${this.identity.sha256.slice(0, 12)}`;
  }

  /** `{"name":…,"version":…}` for response bodies. */
  get modelRef(): string {
    this.modelRefJson ??= JSON.stringify({ name: this.identity.name, version: this.identity.version });
    return this.modelRefJson;
  }

  /** The fields a list body has between its id and its items: `"strategy":…,"model":{…},`. */
  listFields(strategy: string): string {
    let json = this.listFieldsJson.get(strategy);
    if (json === undefined) this.listFieldsJson.set(strategy, (json = `"strategy":${JSON.stringify(strategy)},"model":${this.modelRef},`));
    return json;
  }

  /** One recommended movie as JSON, exactly what JSON.stringify would write for { movieId, title, year, genres, score }. */
  itemJsonWithScore(movieId: number, score: number): string {
    const list = this.itemJson.items([{ movieId, score }]);
    return list.toString('utf8', 1, list.length - 1);
  }
}

/** A bundle's maxTimestamp (epoch seconds) as a Date; null when absent or not a finite number. */
export function watermarkFromMeta(value: unknown): Date | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? new Date(value * 1000) : null;
}

/**
 * Longest run of load steps between two turns of the event loop, in milliseconds. During a swap
 * the requests that arrive while steps run are answered a few per turn, so the stall a request
 * sees grows with the slice: 2 ms instead of 4 took the 20M-sized model's swap maximum at
 * 500 req/s from 34–69 to 17–34 ms in the same run (docs/benchmarks.md, issue 19, h-swap).
 */
const SLICE_MS = 2;

/**
 * Lets requests that arrived meanwhile be read and answered before the next step. Sockets are
 * read in the event loop's poll phase; an immediate set from poll-phase code (a worker message,
 * a resolved read) runs in the same iteration's check phase, before any poll. A second one, set
 * from the check phase, runs only after the next poll phase.
 */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * A turn() that only turns once `ms` have passed since the last one: load steps can then be
 * fine-grained (each a fraction of a millisecond) without a turn's cost after every one.
 */
function timeSlicer(ms: number): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < ms) return;
    await turn();
    since = performance.now();
  };
}

/**
 * The compiled worker script: next to this module in dist/, or, when this module runs from
 * src/*.ts (jest + swc), in the package's dist/ (tests build with `tsc -b` first). Null when
 * neither exists: the load then decodes on the calling thread.
 */
function decodeWorkerUrl(): URL | null {
  for (const rel of ['./decode-worker.js', '../../dist/model/decode-worker.js']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return null;
}

async function decodeOnWorker(
  script: URL,
  from: { path: string } | { bytes: Buffer },
  options: Pick<DecodeJob, 'publicKey' | 'yieldCpu' | 'historyInFileMinBytes'> & { historyInFile: boolean },
  pause: () => Promise<void>,
): Promise<Decoded> {
  const { historyInFile, ...common } = options;
  if (!('path' in from) || !historyInFile) return decodeWith(script, from, common, undefined, pause);
  // The serving thread's own descriptors (a worker's descriptors close when it exits): the history
  // and the rater sample read through them own them from then on; closed here when none does.
  const files: ServingFiles = { fd: openSync(from.path, 'r'), raterSampleFd: openPrivateFile(), raterSampleOwned: false };
  let owned = false;
  try {
    const decoded = await decodeWith(script, from, common, files, pause);
    owned = decoded.history instanceof FileHistory;
    return decoded;
  } finally {
    if (!owned) closeSync(files.fd);
    if (files.raterSampleFd !== undefined && !files.raterSampleOwned) closeSync(files.raterSampleFd);
  }
}

/** The descriptors a load reads from once it serves: the model file's, and a private file for the rater sample. */
interface ServingFiles {
  fd: number;
  /** Undefined when no private file could be made (the rater sample then stays in memory). */
  raterSampleFd: number | undefined;
  /** Set once the rater sample's reader holds raterSampleFd (it closes it when collected). */
  raterSampleOwned: boolean;
}

/**
 * A descriptor of a new, empty file under the temporary directory (an emptyDir in the pods),
 * readable and writable, already unlinked: nothing is left behind and nothing else can change
 * it. Undefined when it cannot be made (no space, a read-only directory).
 */
function openPrivateFile(): number | undefined {
  let dir: string | undefined;
  let fd: number | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'netflicks-raters-'));
    fd = openSync(join(dir, 'raters'), 'wx+', 0o600);
    unlinkSync(join(dir, 'raters'));
    return fd;
  } catch {
    if (fd !== undefined) closeSync(fd);
    return undefined;
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

interface Decoded {
  doc: ModelDocument;
  sha256: string;
  history: CompactHistoryParts | FileHistory;
  foldInGram: Float64Array | null;
  fewRatingsIndex: RaterSampleParts | null;
}

async function decodeWith(
  script: URL,
  from: { path: string } | { bytes: Buffer },
  options: Pick<DecodeJob, 'publicKey' | 'yieldCpu' | 'historyInFileMinBytes'>,
  files: ServingFiles | undefined,
  pause: () => Promise<void>,
): Promise<Decoded> {
  let job: DecodeJob;
  const transferList: ArrayBuffer[] = [];
  const fd = files?.fd;
  if ('path' in from) job = { path: from.path, fd, raterSampleFd: files?.raterSampleFd, ...options };
  else {
    const b = from.bytes;
    // Moved when the bytes own their buffer; otherwise copied by the structured clone.
    if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) transferList.push(b.buffer);
    job = { bytes: b, ...options };
  }
  const reply = await new Promise<DecodeReply>((resolve, reject) => {
    const worker = new Worker(script, { workerData: job, transferList });
    let settled = false;
    worker.once('message', (message: DecodeReply) => {
      settled = true;
      resolve(message);
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`model decode worker exited with code ${code} before replying`));
    });
  });
  if (!reply.ok) {
    // Keep the decoder's error name and message (ModelFileError reasons are in the message).
    const err = new Error(reply.message);
    err.name = reply.name;
    throw err;
  }
  const sections: ModelDocument['sections'] = {};
  for (const [name, view] of Object.entries(reply.sections)) sections[name] = ownRealm(view);
  const meta = reply.meta;
  if (reply.moviesJson) {
    const movies: unknown[] = [];
    const genreLists = new Map<string, readonly unknown[]>();
    for (const slice of reply.moviesJson) {
      await pause();
      for (const movie of JSON.parse(slice) as unknown[]) movies.push(withSharedGenres(movie, genreLists));
    }
    meta.movies = movies;
  }
  const foldInGram = reply.foldInGram ? (ownRealm(reply.foldInGram) as Float64Array) : null;
  const r = reply.fewRatingsIndex;
  let fewRatingsIndex: RaterSampleParts | null = null;
  if (r) {
    // Next to last: the rater sample's reader holds its descriptor from here on.
    const sample = 'bytes' in r.sample ? compactHistoryInOwnRealm(r.sample) : null;
    if (!sample) throw new Error('model decode worker sent a rater sample without its bytes');
    const inFile = reply.raterSampleInFile && files?.raterSampleFd !== undefined ? FileCompactRows.open({ ...sample, fd: files.raterSampleFd, offset: 0 }) : null;
    if (inFile && files) files.raterSampleOwned = true;
    fewRatingsIndex = { ...r, counts: ownRealm(r.counts) as Int32Array, sample: inFile ?? sample };
  }
  // Last: once the FileHistory holds the descriptor, nothing here may fail (it closes it when collected).
  let history: CompactHistoryParts | FileHistory;
  if (reply.historyFile && fd !== undefined) {
    const rows = sections['users.ids'].length;
    const items = reply.historyItems ? CompactHistory.fromParts(compactHistoryInOwnRealm(reply.historyItems)) : undefined;
    history = FileHistory.open({ ...reply.historyFile, fd, rows, cols: sections['items.ids'].length, indptr: sections['history.indptr'] as Int32Array, items });
  } else if (reply.history) history = compactHistoryInOwnRealm(reply.history);
  else throw new Error('model decode worker sent no history');
  return { doc: { meta, sections }, sha256: reply.sha256, history, foldInGram, fewRatingsIndex };
}

/**
 * The movie with its genre list replaced by an equal one met before (frozen, shared): the 20M-sized
 * catalogue's 27k movies have 557 distinct lists, and a list of its own for each, with its own
 * strings, held 1.6 MB more of the serving thread's heap for as long as the model serves.
 */
function withSharedGenres(movie: unknown, lists: Map<string, readonly unknown[]>): unknown {
  const genres: unknown = (movie as { genres?: unknown } | null)?.genres;
  if (!Array.isArray(genres)) return movie;
  const key = JSON.stringify(genres);
  const shared = lists.get(key);
  if (shared) (movie as { genres: readonly unknown[] }).genres = shared;
  else lists.set(key, Object.freeze(genres));
  return movie;
}

function compactHistoryInOwnRealm(h: CompactHistoryParts): CompactHistoryParts {
  return {
    ...h,
    indptr: ownRealm(h.indptr) as Int32Array,
    rowBytes: ownRealm(h.rowBytes) as Float64Array,
    bytes: ownRealm(h.bytes) as Uint8Array,
    dictionary: ownRealm(h.dictionary) as Float32Array,
    ratings: ownRealm(h.ratings) as Float32Array,
  };
}

const VIEWS = { Float32Array, Float64Array, Int32Array, Uint8Array } as const;

/**
 * The same view with this realm's constructor. Messages are deserialised with the main realm's
 * typed arrays, and a caller in another realm (jest runs modules in a vm context) would see them
 * fail `instanceof` checks; rewrapping shares the (transferred) memory, no copy.
 */
function ownRealm(view: ArrayBufferView): ModelDocument['sections'][string] {
  const type = Object.prototype.toString.call(view).slice(8, -1);
  if (!Object.hasOwn(VIEWS, type)) throw new Error(`model decode worker returned an unexpected ${type}`);
  const Ctor = VIEWS[type as keyof typeof VIEWS];
  // The worker sends views of SharedArrayBuffers (decode-worker.ts says why).
  return new Ctor(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength / Ctor.BYTES_PER_ELEMENT);
}
