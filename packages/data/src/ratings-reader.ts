/**
 * Streaming reader for rating files (`user SEP item SEP rating SEP timestamp` per line): ratings.csv,
 * u.data / u1.base, ratings.dat. Numbers are parsed straight from the byte buffer (no per-line
 * string, split or regex) and pushed into typed arrays, so a 20M-row ratings.csv streams through in
 * seconds with memory dominated by the result columns.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { RatingTableBuilder, type RatingTable } from '@netflicks/recsys';
import type { ErrorSink } from './errors.js';

export interface RatingFileOptions {
  /** Field separator: ',' (ratings.csv), '\t' (u.data), '::' (ml-1m ratings.dat). */
  separator: string;
  /** 'auto': a first line that does not start with a number is a header and is skipped. */
  header?: boolean | 'auto';
  sink: ErrorSink;
  /** Name used in error messages (defaults to the path). */
  label?: string;
  minRating?: number;
  maxRating?: number;
  /** Bytes read so far and the file size, once per chunk. */
  onBytes?: (read: number, total: number) => void;
  /** Read size; default 4 MiB. Small values are for tests of lines straddling reads. */
  chunkSize?: number;
}

const NL = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const DOT = 46;
const MINUS = 45;
const CHUNK = 1 << 22; // 4 MiB reads: few syscalls and few carried partial lines
const INT32_MAX = 2147483647;

const FIELD_NAMES = ['user', 'item', 'rating', 'timestamp'] as const;

/** Result codes of the fast path; anything but OK is re-diagnosed by the slow path. */
const OK = 0;
const BLANK = 1;
const BAD = 2;

class LineParser {
  private readonly sep: Uint8Array;
  private readonly sep0: number;
  private readonly sepLen: number;
  private readonly minRating: number;
  private readonly maxRating: number;
  private readonly label: string;
  private readonly header: boolean | 'auto';
  /** 1-based number of the line being parsed. */
  line = 0;
  private seenContent = false;

  constructor(
    private readonly opts: RatingFileOptions,
    label: string,
  ) {
    this.sep = Buffer.from(opts.separator, 'latin1');
    if (this.sep.length === 0) throw new RangeError('separator must not be empty');
    this.sep0 = this.sep[0];
    this.sepLen = this.sep.length;
    this.minRating = opts.minRating ?? 0.5;
    this.maxRating = opts.maxRating ?? 5;
    this.label = label;
    this.header = opts.header ?? 'auto';
  }

  /** Parses [start, end) of `buf` (one line without its '\n'). */
  parseLine(buf: Uint8Array, start: number, end: number, b: RatingTableBuilder): void {
    this.line++;
    if (!this.seenContent) {
      // UTF-8 byte-order mark on the first line.
      if (this.line === 1 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) {
        start += 3;
      }
      if (this.isBlank(buf, start, end)) return;
      this.seenContent = true;
      if (this.header === true || (this.header === 'auto' && !this.startsNumeric(buf, start, end))) return;
    }
    const code = this.parseRow(buf, start, end, b);
    if (code === OK || code === BLANK) return;
    this.opts.sink.fail(this.label, this.line, this.diagnose(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1')));
  }

  private isBlank(buf: Uint8Array, start: number, end: number): boolean {
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c !== SPACE && c !== TAB && c !== CR) return false;
    }
    return true;
  }

  private startsNumeric(buf: Uint8Array, start: number, end: number): boolean {
    let i = start;
    while (i < end && (buf[i] === SPACE || buf[i] === QUOTE)) i++;
    return i < end && ((buf[i] >= 48 && buf[i] <= 57) || buf[i] === MINUS || buf[i] === DOT);
  }

  /**
   * One row, four numeric fields, in a single loop with locals only (no helper calls or field
   * writes per number): this is the hot loop for 20M-row files.
   */
  private parseRow(buf: Uint8Array, start: number, end: number, b: RatingTableBuilder): number {
    // Trim CR and trailing blanks (but not a trailing tab when tab separates fields).
    while (end > start) {
      const c = buf[end - 1];
      if (c === CR || c === SPACE || (c === TAB && this.sep0 !== TAB)) end--;
      else break;
    }
    if (end === start) return BLANK;
    const sep = this.sep;
    const sepLen = this.sepLen;
    let p = start;
    let user = 0;
    let item = 0;
    let rating = 0;
    let timestamp = 0;
    for (let field = 0; field < 4; field++) {
      if (field > 0) {
        if (p + sepLen > end) return BAD;
        for (let k = 0; k < sepLen; k++) if (buf[p + k] !== sep[k]) return BAD;
        p += sepLen;
      }
      while (p < end && buf[p] === SPACE) p++;
      const quoted = p < end && buf[p] === QUOTE;
      if (quoted) p++;
      const decimal = field >= 2; // ids are plain integers; rating and timestamp may have a fraction
      let negative = false;
      if (decimal && p < end && buf[p] === MINUS) {
        negative = true;
        p++;
      }
      let v = 0;
      let digits = 0;
      let c = 0;
      while (p < end && (c = buf[p] - 48) >= 0 && c <= 9) {
        v = v * 10 + c;
        p++;
        digits++;
      }
      if (decimal && p < end && buf[p] === DOT) {
        p++;
        let scale = 1;
        while (p < end && (c = buf[p] - 48) >= 0 && c <= 9) {
          v = v * 10 + c;
          scale *= 10;
          p++;
          digits++;
        }
        v /= scale;
      }
      if (digits === 0 || digits > 15) return BAD;
      if (quoted) {
        if (p >= end || buf[p] !== QUOTE) return BAD;
        p++;
      }
      while (p < end && buf[p] === SPACE) p++;
      if (negative) v = -v;
      if (field === 0) user = v;
      else if (field === 1) item = v;
      else if (field === 2) rating = v;
      else timestamp = v;
    }
    if (p !== end) return BAD;
    if (user > INT32_MAX || item > INT32_MAX) return BAD;
    if (!(rating >= this.minRating && rating <= this.maxRating)) return BAD;
    b.push(user, item, rating, timestamp);
    return OK;
  }

  /** Slow path, only for bad rows: says precisely what is wrong. */
  private diagnose(text: string): string {
    const clean = text.replace(/[\r\s]+$/, '');
    const fields = clean.split(this.opts.separator);
    const shown = clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
    if (fields.length !== 4) return `expected 4 fields separated by ${JSON.stringify(this.opts.separator)}, got ${fields.length}: ${JSON.stringify(shown)}`;
    for (let i = 0; i < 4; i++) {
      const f = fields[i].trim().replace(/^"(.*)"$/, '$1');
      const ok = i < 2 ? /^\d{1,15}$/.test(f) : /^-?(\d+\.?\d*|\.\d+)$/.test(f) && f.replace(/\D/g, '').length <= 15;
      if (!ok) return `bad number in field ${FIELD_NAMES[i]}: ${JSON.stringify(fields[i])}`;
      if (i < 2 && Number(f) > INT32_MAX) return `${FIELD_NAMES[i]} id ${f} exceeds 32-bit range`;
    }
    const rating = Number(fields[2].trim().replace(/^"(.*)"$/, '$1'));
    if (!(rating >= this.minRating && rating <= this.maxRating)) {
      return `rating ${fields[2].trim()} out of range ${this.minRating}..${this.maxRating}`;
    }
    return `malformed row: ${JSON.stringify(shown)}`;
  }
}

/** Reads a whole rating file into a RatingTable; malformed rows go to `opts.sink`. */
export async function readRatingFile(path: string, opts: RatingFileOptions): Promise<RatingTable> {
  const total = (await stat(path)).size;
  const parser = new LineParser(opts, opts.label ?? path);
  let builder: RatingTableBuilder | null = null;
  let carry: Buffer | null = null;
  let read = 0;
  const stream = createReadStream(path, { highWaterMark: opts.chunkSize ?? CHUNK });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    read += chunk.length;
    if (builder === null) builder = new RatingTableBuilder(estimateRows(chunk, total));
    let pos = 0;
    if (carry !== null) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        carry = Buffer.concat([carry, chunk]);
        continue;
      }
      const line = Buffer.concat([carry, chunk.subarray(0, nl)]);
      carry = null;
      parser.parseLine(line, 0, line.length, builder);
      pos = nl + 1;
    }
    for (let nl = chunk.indexOf(NL, pos); nl >= 0; nl = chunk.indexOf(NL, pos)) {
      parser.parseLine(chunk, pos, nl, builder);
      pos = nl + 1;
    }
    if (pos < chunk.length) carry = Buffer.from(chunk.subarray(pos));
    opts.onBytes?.(read, total);
  }
  builder ??= new RatingTableBuilder(16);
  if (carry !== null) parser.parseLine(carry, 0, carry.length, builder);
  return builder.build();
}

/** Capacity guess from the first chunk's mean line length, so 20M rows need no doubling. */
function estimateRows(first: Buffer, totalBytes: number): number {
  let lines = 0;
  for (let nl = first.indexOf(NL); nl >= 0; nl = first.indexOf(NL, nl + 1)) lines++;
  if (lines === 0) return 1024;
  const perLine = first.length / lines;
  return Math.ceil((totalBytes / perLine) * 1.03) + 1024;
}
