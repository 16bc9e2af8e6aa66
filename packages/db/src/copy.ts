/**
 * COPY helpers: stream rows in (text format, built in chunks from typed arrays; never one giant
 * string) and stream numeric rows out (parsed byte by byte into numbers, no per-row strings).
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { withContext } from './errors.js';

/** Bytes per chunk handed to the COPY stream: large enough to amortise stream overhead. */
export const CHUNK_BYTES = 1 << 20;

/** Runs `COPY … FROM STDIN` fed by `chunks`; returns the rows PostgreSQL reports. */
export async function copyIn(client: pg.ClientBase, sql: string, chunks: Iterable<Buffer | string> | AsyncIterable<Buffer | string>): Promise<number> {
  const stream = client.query(pgCopy.from(sql));
  try {
    await pipeline(Readable.from(chunks), stream);
  } catch (err) {
    throw withContext(sql.slice(0, 80), err);
  }
  return stream.rowCount;
}

/** Escapes a value for COPY's text format (backslash, tab, newline, carriage return). */
export function copyText(value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]) : value;
}
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** COPY text's NULL. */
export const COPY_NULL = '\\N';

const PAD2 = Array.from({ length: 60 }, (_, i) => (i < 10 ? `0${i}` : String(i)));
const DAY_MS = 86_400_000;
/** 0001-01-01 .. 9999-12-31: what PostgreSQL's text input accepts without BC/5-digit years. */
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

/**
 * Formats epoch seconds as a timestamptz literal ("1997-09-20 03:05:10+00", milliseconds when
 * present) much faster than Date#toISOString, by caching each day's date part.
 */
export class TimestampFormatter {
  private readonly days = new Map<number, string>();

  /** Whether `seconds` can be formatted (finite, years 1..9999). */
  static valid(seconds: number): boolean {
    const ms = seconds * 1000;
    return Number.isFinite(ms) && ms >= MIN_MS && ms <= MAX_MS;
  }

  format(seconds: number): string {
    const ms = Math.round(seconds * 1000);
    const day = Math.floor(ms / DAY_MS);
    let date = this.days.get(day);
    if (date === undefined) {
      date = `${new Date(day * DAY_MS).toISOString().slice(0, 10)} `;
      if (this.days.size > 100_000) this.days.clear();
      this.days.set(day, date);
    }
    let rest = ms - day * DAY_MS;
    const milli = rest % 1000;
    rest = (rest - milli) / 1000;
    const s = rest % 60;
    rest = (rest - s) / 60;
    const time = `${PAD2[(rest - (rest % 60)) / 60]}:${PAD2[rest % 60]}:${PAD2[s]}`;
    return milli === 0 ? `${date}${time}+00` : `${date}${time}.${String(milli).padStart(3, '0')}+00`;
  }
}

/**
 * Builds COPY text-format rows straight into a Buffer: digits, cached date prefixes and cached
 * rating spellings are written as bytes, so 20M rows cost no per-row strings or UTF-8 encoding.
 * take() hands out the filled part.
 */
export class CopyRowWriter {
  private buf: Buffer;
  private pos = 0;
  private readonly days = new Map<number, Buffer>();
  private readonly numbers = new Map<number, Buffer>();

  constructor(private readonly capacity = 1 << 20) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written since the last take(). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(this.capacity, this.pos));
    this.pos = 0;
    return out;
  }

  tab(): this {
    this.ensure(1);
    this.buf[this.pos++] = 9;
    return this;
  }

  newline(): this {
    this.ensure(1);
    this.buf[this.pos++] = 10;
    return this;
  }

  null(): this {
    this.ensure(2);
    this.buf[this.pos++] = 92; // \
    this.buf[this.pos++] = 78; // N
    return this;
  }

  /** A safe integer. */
  int(n: number): this {
    this.ensure(21);
    if (n < 0) {
      this.buf[this.pos++] = 45;
      n = -n;
    }
    if (n < 10) {
      this.buf[this.pos++] = 48 + n;
      return this;
    }
    let digits = 0;
    for (let m = n; m > 0; m = Math.floor(m / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    for (let m = n; m > 0; m = Math.floor(m / 10)) this.buf[--p] = 48 + (m % 10);
    return this;
  }

  /** Any finite number as JavaScript spells it; spellings of repeated values (ratings) are cached. */
  number(x: number): this {
    if (Number.isSafeInteger(x)) return this.int(x);
    let bytes = this.numbers.get(x);
    if (bytes === undefined) {
      bytes = Buffer.from(String(x), 'latin1');
      if (this.numbers.size < 1024) this.numbers.set(x, bytes);
    }
    return this.bytes(bytes);
  }

  /** Text, escaped for COPY. */
  text(value: string): this {
    const escaped = copyText(value);
    const n = Buffer.byteLength(escaped);
    this.ensure(n);
    this.pos += this.buf.write(escaped, this.pos, 'utf8');
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Epoch seconds as a timestamptz literal, the same text as TimestampFormatter.format. */
  timestamp(seconds: number): this {
    const ms = Math.round(seconds * 1000);
    const day = Math.floor(ms / DAY_MS);
    let date = this.days.get(day);
    if (date === undefined) {
      date = Buffer.from(`${new Date(day * DAY_MS).toISOString().slice(0, 10)} `, 'latin1');
      if (this.days.size > 100_000) this.days.clear();
      this.days.set(day, date);
    }
    this.bytes(date);
    this.ensure(16);
    let rest = ms - day * DAY_MS;
    const milli = rest % 1000;
    rest = (rest - milli) / 1000;
    const sec = rest % 60;
    rest = (rest - sec) / 60;
    const min = rest % 60;
    const hour = (rest - min) / 60;
    const b = this.buf;
    let p = this.pos;
    b[p++] = 48 + Math.floor(hour / 10);
    b[p++] = 48 + (hour % 10);
    b[p++] = 58;
    b[p++] = 48 + Math.floor(min / 10);
    b[p++] = 48 + (min % 10);
    b[p++] = 58;
    b[p++] = 48 + Math.floor(sec / 10);
    b[p++] = 48 + (sec % 10);
    if (milli !== 0) {
      b[p++] = 46;
      b[p++] = 48 + Math.floor(milli / 100);
      b[p++] = 48 + (Math.floor(milli / 10) % 10);
      b[p++] = 48 + (milli % 10);
    }
    b[p++] = 43; // +00
    b[p++] = 48;
    b[p++] = 48;
    this.pos = p;
    return this;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/**
 * Runs `COPY (…) TO STDOUT` (text format) whose columns are all numeric, calling onRow with the
 * parsed fields (NULL → NaN). The array passed to onRow is reused: copy what you keep.
 */
export async function copyOutNumbers(client: pg.ClientBase, sql: string, columns: number, onRow: (fields: Float64Array) => void): Promise<number> {
  const parser = new NumericRowParser(columns, onRow);
  const source = client.query(pgCopy.to(sql));
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      try {
        parser.push(chunk);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  try {
    await pipeline(source, sink);
  } catch (err) {
    throw withContext(sql.slice(0, 120), err);
  }
  parser.end();
  return parser.rows;
}

/** Incremental parser of tab-separated numeric rows; exported for tests. */
export class NumericRowParser {
  rows = 0;
  private readonly fields: Float64Array;
  private carry: Buffer | null = null;

  constructor(
    private readonly columns: number,
    private readonly onRow: (fields: Float64Array) => void,
  ) {
    this.fields = new Float64Array(columns);
  }

  push(chunk: Buffer): void {
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    let lineStart = 0;
    let fieldStart = 0;
    let field = 0;
    for (let i = 0; i < data.length; i++) {
      const c = data[i];
      if (c !== 9 && c !== 10) continue;
      if (field >= this.columns) throw new Error(`COPY output: more than ${this.columns} fields in row ${this.rows + 1}`);
      this.fields[field++] = parseNumber(data, fieldStart, i);
      fieldStart = i + 1;
      if (c === 10) {
        if (field !== this.columns) throw new Error(`COPY output: ${field} fields in row ${this.rows + 1}, expected ${this.columns}`);
        this.onRow(this.fields);
        this.rows++;
        field = 0;
        lineStart = i + 1;
      }
    }
    // Keep the unfinished line (copied: a view would pin the whole chunk).
    this.carry = lineStart < data.length ? Buffer.from(data.subarray(lineStart)) : null;
  }

  end(): void {
    if (this.carry && this.carry.length > 0) throw new Error('COPY output ended in the middle of a row');
  }
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * Decimal number in data[start, end). Fast path for [-]digits[.digits] with at most 15–16
 * significant digits: all digits as one exact integer divided by an exact power of ten is one
 * correctly rounded operation, so the result equals Number(text). Anything else goes to Number().
 */
function parseNumber(data: Buffer, start: number, end: number): number {
  let i = start;
  let neg = false;
  if (data[i] === 45) {
    neg = true;
    i++;
  }
  if (i >= end) return slowParse(data, start, end);
  let mant = 0;
  let scale = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = data[i];
    if (c === 46 && !dot) {
      dot = true;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return slowParse(data, start, end);
    mant = mant * 10 + d;
    if (dot) scale++;
  }
  if (mant > Number.MAX_SAFE_INTEGER || scale > 22) return slowParse(data, start, end);
  const value = scale === 0 ? mant : mant / POW10[scale];
  return neg ? -value : value;
}

function slowParse(data: Buffer, start: number, end: number): number {
  const text = data.toString('latin1', start, end);
  if (text === COPY_NULL) return NaN;
  const n = Number(text);
  if (Number.isNaN(n) && text !== 'NaN') throw new Error(`COPY output: not a number: ${JSON.stringify(text.slice(0, 40))}`);
  return n;
}
