/**
 * Versioned, checksummed binary model files. Reading one never loads code: the header is
 * JSON.parse'd and validated, sections are raw little-endian typed arrays.
 *
 * Layout (version 1), all integers little-endian:
 *   0   8  magic "NFLXMODL"
 *   8   2  format version (uint16) = 1
 *   10  2  flags (uint16): 0, or FLAG_SIGNED
 *   12  4  header byte length H (uint32)
 *   16  8  file byte length, trailer included (uint64)
 *   24  H  UTF-8 JSON {"meta": {...}, "sections": [{name, dtype, length, offset, byteLength}]},
 *          space-padded to an 8-byte boundary (spaces keep it valid JSON)
 *   ...    sections at 8-byte-aligned absolute offsets, in offset order, zero padding between
 *   D      SHA-256 of every byte before it (32 bytes)
 *   D+32   signed files only: Ed25519 signature of SIGNATURE_CONTEXT ‖ that SHA-256 (64 bytes)
 * `length` is the element count; offsets are absolute. Unsigned files have flags 0 and end with
 * the digest, so files written before signing existed read unchanged; a reader that predates
 * signing refuses a signed file (unknown flag) rather than misreading it.
 *
 * Reading is bounded before anything large is allocated: the declared file length must equal
 * the real one, the header is size- and complexity-capped before JSON.parse, and every section
 * must lie, in order, inside the real file. readModelFile then streams the file section by
 * section (hashing as it goes), so a load never holds more than the file's own size.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { fstat, read } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { SectionArray } from '../model.js';
import type { RatingTable } from '../types.js';

export const MODEL_FILE_MAGIC = 'NFLXMODL';
export const MODEL_FILE_VERSION = 1;
/** Flag bit: an Ed25519 signature follows the digest. */
export const FLAG_SIGNED = 1;
const KNOWN_FLAGS = FLAG_SIGNED;
/** Domain separation: a model signature can never be replayed as a signature of anything else. */
const SIGNATURE_CONTEXT = Buffer.from('netflicks-model-file-v1\0', 'latin1');

export interface ModelDocument {
  meta: Record<string, unknown>;
  sections: Record<string, SectionArray>;
}

export type SectionDtype = 'float32' | 'float64' | 'int32' | 'uint8';

export type ModelFileErrorReason =
  | 'bad-magic'
  | 'unsupported-version'
  | 'truncated'
  | 'trailing-data'
  | 'checksum-mismatch'
  | 'bad-header'
  | 'header-too-large'
  | 'out-of-bounds'
  | 'unsigned'
  | 'bad-signature'
  | 'invalid-input'
  | 'big-endian';

/** Why a model file cannot be written or read; `reason` is stable for programs. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
  constructor(
    readonly reason: ModelFileErrorReason,
    message: string,
  ) {
    // One line, whatever a crafted file put into the text quoted.
    super(message.replace(/[\r\n\u2028\u2029]+/g, ' '));
  }
}

/** What a reader accepts before it allocates; the defaults hold a 25M-rating catalogue many times over. */
export interface ModelFileLimits {
  /** Header (meta JSON and section table) bytes. */
  maxHeaderBytes: number;
  /** JSON values in the header (every key, array element and scalar counts). */
  maxHeaderValues: number;
  /** Keys of any one JSON object (V8 turns huge objects into slow dictionaries). */
  maxObjectKeys: number;
  maxSections: number;
}

export const DEFAULT_MODEL_FILE_LIMITS: Readonly<ModelFileLimits> = Object.freeze({
  maxHeaderBytes: 32 * 1024 * 1024,
  maxHeaderValues: 4_000_000,
  maxObjectKeys: 65_536,
  maxSections: 4096,
});

export interface DecodeOptions {
  limits?: Partial<ModelFileLimits>;
  /** When set, only files signed by the matching private key are accepted. */
  publicKey?: KeyObject;
  /**
   * The reading loaders (loadModelFile, loadModelFileFromFd) put the sections named here in
   * SharedArrayBuffers instead of ArrayBuffers: a loader on a worker thread can then hand them to
   * another thread as they are, without a copy of each (which a model load's peak memory would hold
   * next to the originals).
   */
  sharedSections?: (name: string) => boolean;
}

export interface EncodeOptions {
  /** An Ed25519 private key: the file is signed (FLAG_SIGNED). */
  signingKey?: KeyObject;
}

const FIXED = 24;
const DIGEST = 32;
const SIGNATURE = 64;
const ALIGN = 8;
/** A bundle's header nests a few levels; this bounds the scanner's stack and JSON.parse's recursion. */
const MAX_HEADER_DEPTH = 256;
/** Bytes per read while streaming a file (a section larger than this is read in pieces). */
const CHUNK = 8 * 1024 * 1024;
const ELEMENT_SIZE: Record<SectionDtype, number> = { float32: 4, float64: 8, int32: 4, uint8: 1 };

interface SectionEntry {
  name: string;
  dtype: SectionDtype;
  length: number;
  offset: number;
  byteLength: number;
}

/** The fixed part, checked against the real file size. */
interface Prelude {
  flags: number;
  headerLength: number;
  /** Where the digest starts (the end of the checksummed bytes). */
  dataEnd: number;
  total: number;
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function assertLittleEndian(): void {
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
    throw new ModelFileError('big-endian', 'model files are little-endian and this platform is big-endian');
  }
}

function dtypeOf(a: unknown): SectionDtype | null {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'uint8';
  return null;
}

function bytesOf(a: SectionArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function trailerLength(flags: number): number {
  return DIGEST + (flags & FLAG_SIGNED ? SIGNATURE : 0);
}

function signedMessage(digest: Buffer): Buffer {
  return Buffer.concat([SIGNATURE_CONTEXT, digest]);
}

export function encodeModelFile(doc: ModelDocument, opts: EncodeOptions = {}): Buffer {
  assertLittleEndian();
  if (!isPlainObject(doc.meta)) throw new ModelFileError('invalid-input', 'meta must be a plain object');
  if (opts.signingKey && opts.signingKey.asymmetricKeyType !== 'ed25519') {
    throw new ModelFileError('invalid-input', `model signing needs an Ed25519 private key, got ${String(opts.signingKey.asymmetricKeyType)}`);
  }
  const flags = opts.signingKey ? FLAG_SIGNED : 0;
  const names = Object.keys(doc.sections);
  // Lay out sections after a header whose size depends on the offsets: iterate until stable
  // (offset digits only grow, so this converges in a couple of passes).
  let entries: SectionEntry[] = [];
  let headerBytes = Buffer.alloc(0);
  let dataStart = 0;
  for (let pass = 0; ; pass++) {
    let offset = dataStart;
    entries = names.map((name) => {
      const a = doc.sections[name];
      const dtype = dtypeOf(a);
      if (name.length === 0) throw new ModelFileError('invalid-input', 'section names must be non-empty');
      if (dtype === null) throw new ModelFileError('invalid-input', `section "${name}" is not a Float32/Float64/Int32/Uint8 array`);
      const e: SectionEntry = { name, dtype, length: a.length, offset, byteLength: a.byteLength };
      offset = align(offset + a.byteLength);
      return e;
    });
    const json = JSON.stringify({ meta: doc.meta, sections: entries });
    if (json === undefined) throw new ModelFileError('invalid-input', 'meta is not JSON-serialisable');
    headerBytes = Buffer.from(json, 'utf8');
    const start = align(FIXED + headerBytes.length);
    if (start === dataStart) break;
    if (pass > 8) throw new Error('model file layout did not converge'); // unreachable in practice
    dataStart = start;
  }
  const end = entries.length > 0 ? align(entries[entries.length - 1].offset + entries[entries.length - 1].byteLength) : dataStart;
  const total = end + trailerLength(flags);
  const out = Buffer.alloc(total); // zero-filled: padding is deterministic
  out.write(MODEL_FILE_MAGIC, 0, 'latin1');
  out.writeUInt16LE(MODEL_FILE_VERSION, 8);
  out.writeUInt16LE(flags, 10);
  out.writeUInt32LE(headerBytes.length, 12);
  out.writeBigUInt64LE(BigInt(total), 16);
  headerBytes.copy(out, FIXED);
  out.fill(0x20, FIXED + headerBytes.length, dataStart);
  for (const e of entries) bytesOf(doc.sections[e.name]).copy(out, e.offset);
  const digest = createHash('sha256').update(out.subarray(0, end)).digest();
  digest.copy(out, end);
  if (opts.signingKey) sign(null, signedMessage(digest), opts.signingKey).copy(out, end + DIGEST);
  return out;
}

/** Checks the fixed 24 bytes against the file's real size, before anything else is read. */
function parsePrelude(fixed: Buffer, size: number, limits: ModelFileLimits): Prelude {
  const magic = Buffer.from(MODEL_FILE_MAGIC, 'latin1');
  const head = fixed.subarray(0, Math.min(fixed.length, magic.length));
  if (!head.equals(magic.subarray(0, head.length))) {
    throw new ModelFileError('bad-magic', `not a Netflicks model file (magic is not "${MODEL_FILE_MAGIC}")`);
  }
  if (size < FIXED + DIGEST) {
    throw new ModelFileError('truncated', `truncated model file: ${size} bytes, smaller than the ${FIXED + DIGEST}-byte minimum`);
  }
  const version = fixed.readUInt16LE(8);
  if (version !== MODEL_FILE_VERSION) {
    throw new ModelFileError('unsupported-version', `unsupported model file version ${version} (this build reads version ${MODEL_FILE_VERSION})`);
  }
  const flags = fixed.readUInt16LE(10);
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new ModelFileError('unsupported-version', `model file uses flags ${flags} this build does not know`);
  const declared = fixed.readBigUInt64LE(16);
  if (declared > BigInt(size)) throw new ModelFileError('truncated', `truncated model file: ${size} bytes, header says ${declared}`);
  const total = Number(declared);
  if (total < size) throw new ModelFileError('trailing-data', `model file has ${size - total} unexpected bytes after its declared end (${total})`);
  const dataEnd = total - trailerLength(flags);
  const headerLength = fixed.readUInt32LE(12);
  if (headerLength > limits.maxHeaderBytes) {
    throw new ModelFileError('header-too-large', `header of ${headerLength} bytes exceeds the ${limits.maxHeaderBytes}-byte limit`);
  }
  if (FIXED + headerLength > dataEnd) {
    throw new ModelFileError('out-of-bounds', `header of ${headerLength} bytes runs past the data end (${Math.max(dataEnd, 0)})`);
  }
  return { flags, headerLength, dataEnd, total };
}

/**
 * Counts the header's JSON values and the keys of its largest object in one pass over the bytes,
 * so JSON.parse only ever sees a header whose parsed size is bounded. Only structure outside
 * strings counts; malformed JSON is left to JSON.parse.
 */
function checkHeaderComplexity(bytes: Buffer, limits: ModelFileLimits): void {
  let values = 1;
  // Per open container: its key count (objects) or -1 (arrays).
  const keys: number[] = [];
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
      continue;
    }
    switch (c) {
      case 0x22: // "
        inString = true;
        break;
      case 0x7b: // {
        keys.push(0);
        if (keys.length > MAX_HEADER_DEPTH) throw new ModelFileError('header-too-large', `header nests deeper than ${MAX_HEADER_DEPTH} levels`);
        break;
      case 0x5b: // [
        keys.push(-1);
        if (keys.length > MAX_HEADER_DEPTH) throw new ModelFileError('header-too-large', `header nests deeper than ${MAX_HEADER_DEPTH} levels`);
        values++; // a first element, if any (an empty array overcounts by one)
        break;
      case 0x7d: // }
      case 0x5d: // ]
        keys.pop();
        break;
      case 0x3a: {
        // : a key of the innermost object
        const top = keys.length - 1;
        if (top >= 0 && keys[top] >= 0 && ++keys[top] > limits.maxObjectKeys) {
          throw new ModelFileError('header-too-large', `header has an object with more than ${limits.maxObjectKeys} keys`);
        }
        values++;
        break;
      }
      case 0x2c: // , another array element (object members are counted at their ':')
        if (keys.length > 0 && keys[keys.length - 1] < 0) values++;
        break;
    }
    if (values > limits.maxHeaderValues) {
      throw new ModelFileError('header-too-large', `header has more than ${limits.maxHeaderValues} JSON values`);
    }
  }
}

/** Parses and validates the header; every section lies, in order, inside [data start, dataEnd). */
function parseHeader(bytes: Buffer, prelude: Prelude, limits: ModelFileLimits): { meta: Record<string, unknown>; entries: SectionEntry[] } {
  checkHeaderComplexity(bytes, limits);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ModelFileError('bad-header', `model file header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(parsed) || !isPlainObject(parsed.meta) || !Array.isArray(parsed.sections)) {
    throw new ModelFileError('bad-header', 'model file header lacks a "meta" object and a "sections" array');
  }
  if (parsed.sections.length > limits.maxSections) {
    throw new ModelFileError('header-too-large', `header lists ${parsed.sections.length} sections, more than the limit of ${limits.maxSections}`);
  }
  const dataStart = align(FIXED + prelude.headerLength);
  const seen = new Set<string>();
  let prevEnd = dataStart;
  const entries: SectionEntry[] = [];
  for (const raw of parsed.sections) {
    const e = checkEntry(raw);
    if (seen.has(e.name)) throw new ModelFileError('bad-header', `duplicate section "${e.name}"`);
    seen.add(e.name);
    if (e.offset % ALIGN !== 0 || e.offset < prevEnd || e.offset + e.byteLength > prelude.dataEnd) {
      throw new ModelFileError(
        'out-of-bounds',
        `section "${e.name}" out of bounds: bytes ${e.offset}..${e.offset + e.byteLength} of data ${dataStart}..${prelude.dataEnd}`,
      );
    }
    prevEnd = e.offset + e.byteLength;
    entries.push(e);
  }
  return { meta: parsed.meta, entries };
}

/** Checks the digest (and, with a public key, the signature) that follows the data. */
function checkTrailer(digest: Buffer, trailer: Buffer, prelude: Prelude, publicKey: KeyObject | undefined): void {
  if (!digest.equals(trailer.subarray(0, DIGEST))) {
    throw new ModelFileError('checksum-mismatch', 'model file checksum mismatch: the file is corrupt or was modified');
  }
  if (!publicKey) return;
  if (!(prelude.flags & FLAG_SIGNED)) {
    throw new ModelFileError('unsigned', 'model file is not signed and a model public key is configured');
  }
  let ok = false;
  try {
    ok = verify(null, signedMessage(digest), publicKey, trailer.subarray(DIGEST, DIGEST + SIGNATURE));
  } catch (err) {
    throw new ModelFileError('bad-signature', `model signature cannot be checked: ${(err as Error).message}`);
  }
  if (!ok) throw new ModelFileError('bad-signature', 'model signature does not match the configured public key');
}

function resolveLimits(limits: Partial<ModelFileLimits> | undefined): ModelFileLimits {
  return { ...DEFAULT_MODEL_FILE_LIMITS, ...limits };
}

/** Decodes model-file bytes already in memory; sections are views into `buf` where aligned. */
export function decodeModelFile(buf: Buffer, opts: DecodeOptions = {}): ModelDocument {
  assertLittleEndian();
  const limits = resolveLimits(opts.limits);
  const prelude = parsePrelude(buf.subarray(0, FIXED), buf.length, limits);
  const digest = createHash('sha256').update(buf.subarray(0, prelude.dataEnd)).digest();
  checkTrailer(digest, buf.subarray(prelude.dataEnd, prelude.total), prelude, opts.publicKey);
  const { meta, entries } = parseHeader(buf.subarray(FIXED, FIXED + prelude.headerLength), prelude, limits);
  // fromEntries defines own properties, so a section named "__proto__" stays data.
  return { meta, sections: Object.fromEntries(entries.map((e) => [e.name, sectionView(buf, e)])) };
}

function checkEntry(raw: unknown): SectionEntry {
  const bad = (why: string): never => {
    throw new ModelFileError('bad-header', `invalid section entry: ${why}`);
  };
  if (!isPlainObject(raw)) return bad('not an object');
  const { name, dtype, length, offset, byteLength } = raw;
  if (typeof name !== 'string' || name.length === 0) return bad('missing name');
  if (!isDtype(dtype)) return bad(`section "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
  if (!isCount(length) || !isCount(offset) || !isCount(byteLength)) return bad(`section "${name}" has a bad length or offset`);
  if (length * ELEMENT_SIZE[dtype] !== byteLength) return bad(`section "${name}": byteLength is not length × ${ELEMENT_SIZE[dtype]}`);
  return { name, dtype, length, offset, byteLength };
}

function isDtype(v: unknown): v is SectionDtype {
  return typeof v === 'string' && Object.hasOwn(ELEMENT_SIZE, v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A view into `buf` when the absolute address is aligned for the element type, else a copy. */
function sectionView(buf: Buffer, e: SectionEntry): SectionArray {
  const at = buf.byteOffset + e.offset;
  const aligned = at % ELEMENT_SIZE[e.dtype] === 0;
  const src = buf.buffer;
  const copy = (): ArrayBuffer => {
    const ab = new ArrayBuffer(e.byteLength);
    new Uint8Array(ab).set(buf.subarray(e.offset, e.offset + e.byteLength));
    return ab;
  };
  switch (e.dtype) {
    case 'uint8':
      return new Uint8Array(src, at, e.length);
    case 'int32':
      return aligned ? new Int32Array(src, at, e.length) : new Int32Array(copy());
    case 'float32':
      return aligned ? new Float32Array(src, at, e.length) : new Float32Array(copy());
    case 'float64':
      return aligned ? new Float64Array(src, at, e.length) : new Float64Array(copy());
  }
}

function typedArray(e: SectionEntry, ab: ArrayBuffer): SectionArray {
  switch (e.dtype) {
    case 'uint8':
      return new Uint8Array(ab);
    case 'int32':
      return new Int32Array(ab);
    case 'float32':
      return new Float32Array(ab);
    case 'float64':
      return new Float64Array(ab);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Writes atomically: a temp file in the same directory, fsync'd, then renamed over `path`. */
export async function writeModelFile(path: string, doc: ModelDocument, opts: EncodeOptions = {}): Promise<void> {
  const bytes = encodeModelFile(doc, opts);
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o644);
  try {
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** A model file read from disk and verified. */
export interface ModelFileContents {
  doc: ModelDocument;
  /** SHA-256 (hex) of the whole file, the model's identity. */
  sha256: string;
  byteLength: number;
  signed: boolean;
  /** Absolute byte offset of each section in the file (to read parts of it again later). */
  offsets: Record<string, number>;
}

/** What reading a model file needs of an open file (a FileHandle, or a descriptor's reads). */
interface ReadableFile {
  stat(): Promise<{ size: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** Fills `target` from the file at `position`; a short read means the file shrank meanwhile. */
async function readInto(fh: ReadableFile, target: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < target.length; ) {
    const { bytesRead } = await fh.read(target, done, Math.min(CHUNK, target.length - done), position + done);
    if (bytesRead === 0) throw new ModelFileError('truncated', `model file ended at byte ${position + done} while being read`);
    done += bytesRead;
  }
}

/**
 * Reads and verifies a model file from a handle, section by section: the prelude and header are
 * checked against the real size before any section is allocated, each section gets its own
 * buffer (aligned, transferable), and everything is hashed as it streams by.
 */
async function readFromHandle(fh: ReadableFile, opts: DecodeOptions): Promise<ModelFileContents> {
  assertLittleEndian();
  const limits = resolveLimits(opts.limits);
  const { size } = await fh.stat();
  const fixed = Buffer.alloc(Math.min(size, FIXED));
  await readInto(fh, fixed, 0);
  const prelude = parsePrelude(fixed, size, limits);
  const headerBytes = Buffer.alloc(prelude.headerLength);
  await readInto(fh, headerBytes, FIXED);
  const { meta, entries } = parseHeader(headerBytes, prelude, limits);
  const hash = createHash('sha256').update(fixed).update(headerBytes);
  let position = FIXED + prelude.headerLength;
  const scratch = Buffer.alloc(Math.min(CHUNK, Math.max(prelude.dataEnd - position, 0)));
  /** Hashes the bytes up to `until` that belong to no section (padding). */
  const skipTo = async (until: number): Promise<void> => {
    while (position < until) {
      const piece = scratch.subarray(0, Math.min(scratch.length, until - position));
      await readInto(fh, piece, position);
      hash.update(piece);
      position += piece.length;
    }
  };
  const sections: [string, SectionArray][] = [];
  for (const e of entries) {
    await skipTo(e.offset);
    // Not zero-filled (it is read over in full or refused): an ArrayBuffer of its own, exactly sized.
    const bytes = opts.sharedSections?.(e.name) ? Buffer.from(new SharedArrayBuffer(e.byteLength)) : Buffer.allocUnsafeSlow(e.byteLength);
    const ab = bytes.buffer as ArrayBuffer;
    for (let done = 0; done < bytes.length; done += CHUNK) {
      const piece = bytes.subarray(done, Math.min(bytes.length, done + CHUNK));
      await readInto(fh, piece, position);
      hash.update(piece);
      position += piece.length;
    }
    sections.push([e.name, typedArray(e, ab)]);
  }
  await skipTo(prelude.dataEnd);
  const trailer = Buffer.alloc(prelude.total - prelude.dataEnd);
  await readInto(fh, trailer, prelude.dataEnd);
  const whole = hash.copy();
  checkTrailer(hash.digest(), trailer, prelude, opts.publicKey);
  return {
    doc: { meta, sections: Object.fromEntries(sections) },
    sha256: whole.update(trailer).digest('hex'),
    byteLength: prelude.total,
    signed: (prelude.flags & FLAG_SIGNED) !== 0,
    offsets: Object.fromEntries(entries.map((e) => [e.name, e.offset])),
  };
}

/** Reads and verifies a model file; format errors are ModelFileErrors naming the path. */
export async function loadModelFile(path: string, opts: DecodeOptions = {}): Promise<ModelFileContents> {
  try {
    const fh = await open(path, 'r');
    try {
      return await readFromHandle(fh, opts);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof ModelFileError) throw new ModelFileError(err.reason, `${path}: ${err.message}`);
    throw err;
  }
}

const readFd = promisify(read);
const fstatFd = promisify(fstat);

/**
 * loadModelFile over a descriptor the caller opened (and closes): the caller can keep reading the
 * very file it verified, whatever is renamed over its path meanwhile. `path` names it in errors.
 */
export async function loadModelFileFromFd(fd: number, path: string, opts: DecodeOptions = {}): Promise<ModelFileContents> {
  const file: ReadableFile = {
    stat: () => fstatFd(fd),
    read: (buffer, offset, length, position) => readFd(fd, buffer, offset, length, position),
  };
  try {
    return await readFromHandle(file, opts);
  } catch (err) {
    if (err instanceof ModelFileError) throw new ModelFileError(err.reason, `${path}: ${err.message}`);
    throw err;
  }
}

/** Reads and verifies a model file (see loadModelFile). */
export async function readModelFile(path: string, opts: DecodeOptions = {}): Promise<ModelDocument> {
  return (await loadModelFile(path, opts)).doc;
}

/** An Ed25519 key from a PEM file (private for signing, public for verifying); a clear error otherwise. */
export async function readModelKey(path: string, kind: 'private' | 'public'): Promise<KeyObject> {
  const pem = await readFile(path);
  let key: KeyObject;
  try {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (err) {
    throw new ModelFileError('invalid-input', `${path}: not a PEM ${kind} key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ModelFileError('invalid-input', `${path}: model keys are Ed25519, this is ${String(key.asymmetricKeyType)}`);
  }
  return key;
}

/**
 * SHA-256 (hex) over a rating table's columns in row order — length, then the raw little-endian
 * bytes of user, item, rating, timestamp — so a model records exactly which data trained it.
 */
export function fingerprintRatings(table: RatingTable): string {
  assertLittleEndian();
  const n = table.length;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(n));
  return createHash('sha256')
    .update('netflicks-ratings-v1')
    .update(len)
    .update(bytesOf(table.user.subarray(0, n)))
    .update(bytesOf(table.item.subarray(0, n)))
    .update(bytesOf(table.rating.subarray(0, n)))
    .update(bytesOf(table.timestamp.subarray(0, n)))
    .digest('hex');
}
