/**
 * Versioned, checksummed binary model files. Reading one never loads code: the header is
 * JSON.parse'd and validated, sections are raw little-endian typed arrays.
 *
 * Layout (version 1), all integers little-endian:
 *   0   8  magic "NFLXMODL"
 *   8   2  format version (uint16) = 1
 *   10  2  reserved (uint16) = 0
 *   12  4  header byte length H (uint32)
 *   16  8  file byte length, trailer included (uint64)
 *   24  H  UTF-8 JSON {"meta": {...}, "sections": [{name, dtype, length, offset, byteLength}]},
 *          space-padded to an 8-byte boundary (spaces keep it valid JSON)
 *   ...    sections at 8-byte-aligned absolute offsets, zero padding between
 *   end-32 SHA-256 of every byte before it
 * `length` is the element count; offsets are absolute.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import type { SectionArray } from '../model.js';
import type { RatingTable } from '../types.js';

export const MODEL_FILE_MAGIC = 'NFLXMODL';
export const MODEL_FILE_VERSION = 1;

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
  | 'out-of-bounds'
  | 'invalid-input'
  | 'big-endian';

/** Why a model file cannot be written or read; `reason` is stable for programs. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
  constructor(
    readonly reason: ModelFileErrorReason,
    message: string,
  ) {
    super(message);
  }
}

const FIXED = 24;
const TRAILER = 32;
const ALIGN = 8;
const ELEMENT_SIZE: Record<SectionDtype, number> = { float32: 4, float64: 8, int32: 4, uint8: 1 };

interface SectionEntry {
  name: string;
  dtype: SectionDtype;
  length: number;
  offset: number;
  byteLength: number;
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

export function encodeModelFile(doc: ModelDocument): Buffer {
  assertLittleEndian();
  if (!isPlainObject(doc.meta)) throw new ModelFileError('invalid-input', 'meta must be a plain object');
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
  const total = end + TRAILER;
  const out = Buffer.alloc(total); // zero-filled: padding is deterministic
  out.write(MODEL_FILE_MAGIC, 0, 'latin1');
  out.writeUInt16LE(MODEL_FILE_VERSION, 8);
  out.writeUInt16LE(0, 10);
  out.writeUInt32LE(headerBytes.length, 12);
  out.writeBigUInt64LE(BigInt(total), 16);
  headerBytes.copy(out, FIXED);
  out.fill(0x20, FIXED + headerBytes.length, dataStart);
  for (const e of entries) bytesOf(doc.sections[e.name]).copy(out, e.offset);
  createHash('sha256').update(out.subarray(0, end)).digest().copy(out, end);
  return out;
}

export function decodeModelFile(buf: Buffer): ModelDocument {
  assertLittleEndian();
  const magic = Buffer.from(MODEL_FILE_MAGIC, 'latin1');
  const head = buf.subarray(0, Math.min(buf.length, magic.length));
  if (!head.equals(magic.subarray(0, head.length))) {
    throw new ModelFileError('bad-magic', `not a Netflicks model file (magic is not "${MODEL_FILE_MAGIC}")`);
  }
  if (buf.length < FIXED + TRAILER) {
    throw new ModelFileError('truncated', `truncated model file: ${buf.length} bytes, smaller than the ${FIXED + TRAILER}-byte minimum`);
  }
  const version = buf.readUInt16LE(8);
  if (version !== MODEL_FILE_VERSION) {
    throw new ModelFileError('unsupported-version', `unsupported model file version ${version} (this build reads version ${MODEL_FILE_VERSION})`);
  }
  const declared = buf.readBigUInt64LE(16);
  if (declared > BigInt(buf.length)) {
    throw new ModelFileError('truncated', `truncated model file: ${buf.length} bytes, header says ${declared}`);
  }
  const total = Number(declared);
  if (total < buf.length) {
    throw new ModelFileError('trailing-data', `model file has ${buf.length - total} unexpected bytes after its declared end (${total})`);
  }
  const end = total - TRAILER;
  const digest = createHash('sha256').update(buf.subarray(0, end)).digest();
  if (!digest.equals(buf.subarray(end, total))) {
    throw new ModelFileError('checksum-mismatch', 'model file checksum mismatch: the file is corrupt or was modified');
  }
  if (buf.readUInt16LE(10) !== 0) throw new ModelFileError('unsupported-version', 'model file uses reserved flags this build does not know');

  const headerLength = buf.readUInt32LE(12);
  if (FIXED + headerLength > end) {
    throw new ModelFileError('out-of-bounds', `header of ${headerLength} bytes runs past the data end (${end})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8', FIXED, FIXED + headerLength));
  } catch (err) {
    throw new ModelFileError('bad-header', `model file header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(parsed) || !isPlainObject(parsed.meta) || !Array.isArray(parsed.sections)) {
    throw new ModelFileError('bad-header', 'model file header lacks a "meta" object and a "sections" array');
  }
  const dataStart = align(FIXED + headerLength);
  const seen = new Set<string>();
  let prevEnd = dataStart;
  const sections: [string, SectionArray][] = [];
  for (const raw of parsed.sections) {
    const e = checkEntry(raw);
    if (seen.has(e.name)) throw new ModelFileError('bad-header', `duplicate section "${e.name}"`);
    seen.add(e.name);
    if (e.offset % ALIGN !== 0 || e.offset < prevEnd || e.offset + e.byteLength > end) {
      throw new ModelFileError(
        'out-of-bounds',
        `section "${e.name}" out of bounds: bytes ${e.offset}..${e.offset + e.byteLength} of data ${dataStart}..${end}`,
      );
    }
    prevEnd = e.offset + e.byteLength;
    sections.push([e.name, sectionView(buf, e)]);
  }
  // fromEntries defines own properties, so a section named "__proto__" stays data.
  return { meta: parsed.meta, sections: Object.fromEntries(sections) };
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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Writes atomically: a temp file in the same directory, fsync'd, then renamed over `path`. */
export async function writeModelFile(path: string, doc: ModelDocument): Promise<void> {
  const bytes = encodeModelFile(doc);
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

/** Reads and verifies a model file; format errors are ModelFileErrors naming the path. */
export async function readModelFile(path: string): Promise<ModelDocument> {
  const buf = await readFile(path);
  try {
    return decodeModelFile(buf);
  } catch (err) {
    if (err instanceof ModelFileError) throw new ModelFileError(err.reason, `${path}: ${err.message}`);
    throw err;
  }
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
