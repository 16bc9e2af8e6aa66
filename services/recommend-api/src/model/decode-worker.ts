/**
 * Worker thread for model loads: reads (or receives) a model file, hashes it and verifies and
 * decodes it (the bounded, streaming loadModelFile for a path; decodeModelFile for bytes: the
 * SHA-256 check, the header parse and, with a public key, the signature), then opens it once as a
 * bundle, which runs every content check (ids, offsets, floats, ratings, shapes). On the 20M-sized
 * model that is ~1 s of CPU that would otherwise stall every request of the serving thread during
 * a hot swap; the serving thread then opens the same sections with the checks skipped. What the
 * serving thread keeps crosses in SharedArrayBuffers (the sections read into them, the rest copied once: see run()), and the
 * catalogue travels as JSON text in slices, which the serving thread parses one slice per turn of
 * its event loop (a structured clone of 27k movie objects would be deserialised in one go).
 *
 * One job per worker: the parent starts a worker per load and it exits after replying.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { readlinkSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import {
  CompactHistory,
  ContentModel,
  IalsModel,
  decodeModelFile,
  loadModelFile,
  loadModelFileFromFd,
  openBundle,
  type CompactHistoryParts,
  type ModelDocument,
  type RaterSampleParts,
} from '@netflicks/recsys';

/**
 * A KeyObject crosses to the worker by structured clone. `yieldCpu`: the worker lowers its
 * priority (a swap next to live traffic; not a first load, which has none and should just finish).
 * `fd` (with a path): a descriptor of the file the serving thread opened and keeps (a worker's own
 * descriptors close when it exits), read here instead of the path; the serving thread then reads
 * history rows from it (the reply says where) instead of receiving the compact history.
 * `raterSampleFd` (with `fd`): a private, empty file of the serving thread's; when the history is
 * read from the model file, the few-ratings index's rater sample is written there (from offset
 * 0) and read from it per request too (the reply's raterSampleInFile), not sent.
 */
export type DecodeJob = ({ path: string; fd?: number; raterSampleFd?: number } | { bytes: Uint8Array }) & { publicKey?: KeyObject; yieldCpu: boolean; historyInFileMinBytes?: number };

/** Where the history's rows are in the file of the job's descriptor. */
export interface HistoryInFile {
  indicesOffset: number;
  dataOffset: number;
}

/** The history's row sections: the serving thread gets them compacted, or reads them from the file. */
const HISTORY_ROWS = ['history.indices', 'history.data'];

/** The content model's stored user profiles. */
const CONTENT_PROFILE_SECTIONS = ['content.userIndptr', 'content.userIndices', 'content.userData'];

/** Movies per JSON slice of the catalogue (~1 ms to parse each on the serving thread). */
const MOVIES_PER_SLICE = 1000;

export type DecodeReply =
  | {
      ok: true;
      sha256: string;
      /** The document's meta without `movies`. */
      meta: Record<string, unknown>;
      /** meta.movies as JSON arrays of up to MOVIES_PER_SLICE movies each (none: no movies key). */
      moviesJson: string[] | null;
      /** The sections except the history's, each in a buffer of its own. */
      sections: Record<string, ArrayBufferView>;
      /** The history, compacted (CompactHistory.parts()); null when it is read from the file (historyFile). */
      history: CompactHistoryParts | null;
      historyFile: HistoryInFile | null;
      /** With historyFile: the rows' item indices, compacted without ratings (kept in memory: FileHistory's `items`). */
      historyItems: CompactHistoryParts | null;
      /** The implicit ALS model's fold-in Gram matrix, built here (null: no such model). */
      foldInGram: Float64Array | null;
      /** The hybrid policy's few-ratings index (co-occurrence's rater sample), built here (null: none). */
      fewRatingsIndex: RaterSampleParts | null;
      /** The rater sample's bytes are in the job's raterSampleFd from offset 0 (its `bytes` here are empty). */
      raterSampleInFile: boolean;
    }
  | { ok: false; message: string; name: string };

async function run(job: DecodeJob): Promise<{ reply: DecodeReply; transfer: ArrayBuffer[] }> {
  try {
    let doc: ModelDocument;
    let sha256: string;
    let offsets: Record<string, number> = {};
    const fd = 'path' in job ? job.fd : undefined;
    if ('path' in job) {
      // The sections serving keeps are read straight into SharedArrayBuffers (sent as they are, below).
      const opts = { publicKey: job.publicKey, sharedSections: (name: string) => !HISTORY_ROWS.includes(name) };
      ({ doc, sha256, offsets } = await (fd !== undefined ? loadModelFileFromFd(fd, job.path, opts) : loadModelFile(job.path, opts)));
    } else {
      // The bytes must own their whole ArrayBuffer for it to move: a slice of a larger (or
      // pooled) buffer is copied first.
      const raw = job.bytes;
      const owned = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer ? raw : Uint8Array.prototype.slice.call(raw);
      const bytes = Buffer.from(owned.buffer, owned.byteOffset, owned.byteLength);
      sha256 = createHash('sha256').update(bytes).digest('hex');
      doc = decodeModelFile(bytes, { publicKey: job.publicKey });
    }
    // Every check, here rather than on the serving thread (BundleError names what is wrong).
    const bundle = openBundle(doc);
    if (!(bundle.compactHistory instanceof CompactHistory)) throw new Error('internal: a bundle opened from sections has a compact history');
    const { movies, ...meta } = doc.meta;
    let moviesJson: string[] | null = null;
    if (Array.isArray(movies)) {
      moviesJson = [];
      for (let i = 0; i < movies.length; i += MOVIES_PER_SLICE) moviesJson.push(JSON.stringify(movies.slice(i, i + MOVIES_PER_SLICE)));
    } else if (movies !== undefined) meta.movies = movies;
    // The serving thread keeps only what it serves with: the compact history (or the file) instead
    // of the history sections, and each other section in a buffer of its own (decodeModelFile's
    // views of the whole file's bytes are copied out, so those bytes are freed here).
    const compact = bundle.compactHistory.parts();
    const history = { ...compact, indptr: ownBuffer(compact.indptr), ratings: ownBuffer(compact.ratings) };
    // A history smaller than the job's minimum stays in memory: a read per request is not worth a
    // few MB (docs/benchmarks.md, issue 19: 3-5 % of the 20M-sized route's throughput).
    const compactBytes = [history.indptr, history.rowBytes, history.bytes, history.dictionary, history.ratings].reduce((sum, a) => sum + a.byteLength, 0);
    const inFile = fd !== undefined && offsets['history.indices'] !== undefined && offsets['history.data'] !== undefined && compactBytes >= (job.historyInFileMinBytes ?? 0);
    const historyFile = inFile ? { indicesOffset: offsets['history.indices'], dataOffset: offsets['history.data'] } : null;
    const historyItems = inFile ? CompactHistory.fromCsr({ rows: history.rows, cols: history.cols, indptr: history.indptr, indices: doc.sections['history.indices'] as Int32Array }).parts() : null;
    // The content model's user profiles too, when they are exactly what the histories give (the
    // serving thread then builds a profile from the user's compact row when it needs one).
    const content = bundle.models.content;
    const profilesFromHistory = content instanceof ContentModel && content.profilesBuiltFrom(bundle.compactHistory);
    const sections: Record<string, ArrayBufferView> = {};
    for (const [name, section] of Object.entries(doc.sections)) {
      if (HISTORY_ROWS.includes(name)) continue;
      if (profilesFromHistory && CONTENT_PROFILE_SECTIONS.includes(name)) continue;
      sections[name] = name === 'history.indptr' ? history.indptr : ownBuffer(section);
    }
    // Fold-in's Gram matrix (k²·items/2 multiply-adds) here rather than in blocks on the serving thread.
    const ials = bundle.models.ials;
    let foldInGram: Float64Array | null = null;
    if (ials instanceof IalsModel) {
      for (const _ of ials.prepareFoldIn());
      foldInGram = ials.foldInGram;
    }
    // The few-ratings index (O(ratings) to build) likewise.
    let fewRatingsIndex: RaterSampleParts | null = null;
    if (bundle.hybrid) {
      for (const _ of bundle.hybrid.prepareFewRatings());
      fewRatingsIndex = bundle.hybrid.fewRatingsIndex;
    }
    // Everything the serving thread keeps crosses in SharedArrayBuffers, which V8 does not count
    // as the receiving isolate's external memory: ~200 MB of transferred ArrayBuffers arriving at
    // once put its heap under external-memory pressure, and until that collection ended every
    // buffer a request allocated ran a marking step of 5-10 ms (docs/benchmarks.md, issue 19, h-swap).
    const copies = new Map<ArrayBufferView, ArrayBufferView>();
    const share = <T extends ArrayBufferView>(view: T): T => {
      let copy = copies.get(view);
      if (copy === undefined) copies.set(view, (copy = sharedCopy(view)));
      return copy as T;
    };
    const sharedSections = Object.fromEntries(Object.entries(sections).map(([name, view]) => [name, share(view)]));
    const sharedHistory = { ...history, indptr: share(history.indptr), ...(historyFile ? {} : { rowBytes: share(history.rowBytes), bytes: share(history.bytes), dictionary: share(history.dictionary), ratings: share(history.ratings) }) };
    // The rater sample goes where the history goes: with the history read from the model file,
    // its varints (16 MB on the 20M-sized model) go to the serving thread's private file.
    const raterSampleFd = 'path' in job && inFile ? job.raterSampleFd : undefined;
    const raterSampleInFile = fewRatingsIndex !== null && raterSampleFd !== undefined;
    let sharedRaters: RaterSampleParts | null = null;
    if (fewRatingsIndex) {
      const sample = fewRatingsIndex.sample;
      if (!('bytes' in sample)) throw new Error('internal: a rater sample built here is in memory');
      if (raterSampleFd !== undefined) writeAll(raterSampleFd, sample.bytes);
      const parts = raterSampleFd !== undefined ? { ...sample, bytes: new Uint8Array(0) } : sample;
      sharedRaters = { ...fewRatingsIndex, counts: share(fewRatingsIndex.counts), sample: sharedCompactHistory(parts, share) };
    }
    return {
      reply: { ok: true, sha256, meta, moviesJson, sections: sharedSections, history: historyFile ? null : sharedHistory, historyFile, historyItems: historyItems ? sharedCompactHistory(historyItems, share) : null, foldInGram: foldInGram ? share(foldInGram) : null, fewRatingsIndex: sharedRaters, raterSampleInFile },
      transfer: [],
    };
  } catch (err) {
    return { reply: { ok: false, message: err instanceof Error ? err.message : String(err), name: err instanceof Error ? err.name : 'Error' }, transfer: [] };
  }
}

/** The same compact-history parts with every array replaced by `share(array)`. */
function sharedCompactHistory(p: CompactHistoryParts, share: <T extends ArrayBufferView>(view: T) => T): CompactHistoryParts {
  return { ...p, indptr: share(p.indptr), rowBytes: share(p.rowBytes), bytes: share(p.bytes), dictionary: share(p.dictionary), ratings: share(p.ratings) };
}

/** Writes `bytes` to `fd` from offset 0. */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at, at);
}

/** A typed array in a SharedArrayBuffer of its own, of the same type: the view itself when it is one already, else a copy. */
function sharedCopy<T extends ArrayBufferView>(view: T): T {
  if (view.buffer instanceof SharedArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) return view;
  const buffer = new SharedArrayBuffer(view.byteLength);
  new Uint8Array(buffer).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  const Ctor = view.constructor as new (b: SharedArrayBuffer) => T;
  return new Ctor(buffer);
}

/** The view itself when it spans its whole buffer, else a copy in a buffer of its own. */
function ownBuffer<T extends ModelDocument['sections'][string]>(view: T): T {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : (view.slice() as T);
}

/**
 * Frees what the load left behind on this thread (the history sections, ~150 MB on the 20M-sized
 * model, the content profiles, the decoder's temporaries) before the reply is posted, while the
 * serving thread only waits. Otherwise they are freed when this thread exits, just after the
 * reply: hundreds of MB unmapped while the serving thread opens the bundle, and the kernel's
 * mapping lock it then holds stalls the serving thread's own page allocations (docs/benchmarks.md,
 * issue 19, h-swap). The collector is reached through a context created with --expose-gc set for
 * that moment only (V8 flags are the process's).
 */
function releaseGarbage(): void {
  try {
    // Already exposed (node --expose-gc): the flag stays as the operator set it.
    const exposed: unknown = (globalThis as { gc?: unknown }).gc;
    const gc = typeof exposed === 'function' ? exposed : collectorOfNewContext();
    if (typeof gc === 'function') gc();
  } catch {
    // no collector reachable: freed when the thread exits, as before
  }
}

/** `gc` of a context created while --expose-gc is set (and reset right after). */
function collectorOfNewContext(): unknown {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc');
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * Lowers this thread's scheduling priority (Linux: a thread id is a valid setpriority target), so
 * that on a busy machine the serving thread wins the CPU when both are runnable. Elsewhere, or
 * when not permitted, the worker runs at the process's priority.
 */
function yieldToServingThread(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 19);
  } catch {
    // not Linux, or no /proc: keep the priority
  }
}

if (parentPort) {
  const port = parentPort;
  const job = workerData as DecodeJob;
  if (job.yieldCpu) yieldToServingThread();
  void run(job).then(({ reply, transfer }) => {
    releaseGarbage();
    port.postMessage(reply, transfer);
  });
}
