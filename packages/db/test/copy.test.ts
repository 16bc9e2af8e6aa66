import fc from 'fast-check';
import { CopyRowWriter, NumericRowParser, TimestampFormatter, copyText } from '@netflicks/db';

/** What PostgreSQL would read back from our literal, as epoch milliseconds. */
function parseLiteral(s: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{3})?\+00$/.exec(s);
  if (!m) throw new Error(`bad literal ${s}`);
  return Date.parse(`${m[1]}T${m[2]}${m[3] ?? ''}Z`);
}

describe('TimestampFormatter', () => {
  test('formats like toISOString, with milliseconds only when present', () => {
    const f = new TimestampFormatter();
    expect(f.format(874965758)).toBe('1997-09-22 22:02:38+00');
    expect(f.format(0)).toBe('1970-01-01 00:00:00+00');
    expect(f.format(-1.5)).toBe('1969-12-31 23:59:58.500+00');
    expect(f.format(1500.25)).toBe('1970-01-01 00:25:00.250+00');
  });

  test('round-trips any millisecond instant in years 1..9999', () => {
    const f = new TimestampFormatter();
    fc.assert(
      fc.property(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), (ms) => {
        expect(parseLiteral(f.format(ms / 1000))).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  test('valid() rejects what PostgreSQL could not take', () => {
    expect(TimestampFormatter.valid(0)).toBe(true);
    expect(TimestampFormatter.valid(NaN)).toBe(false);
    expect(TimestampFormatter.valid(Infinity)).toBe(false);
    expect(TimestampFormatter.valid(1e12)).toBe(false);
  });
});

test('copyText escapes the characters COPY text format treats specially', () => {
  expect(copyText('plain')).toBe('plain');
  expect(copyText('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
});

describe('NumericRowParser', () => {
  const parseAll = (chunks: string[], columns: number): number[][] => {
    const out: number[][] = [];
    const p = new NumericRowParser(columns, (f) => out.push(Array.from(f)));
    for (const c of chunks) p.push(Buffer.from(c, 'latin1'));
    p.end();
    return out;
  };

  test('parses integers, decimals, negatives, exponents and NULL', () => {
    expect(parseAll(['1\t-2\t3.5\t874965758000\n', '0\t1e+06\t\\N\t-0.25\n'], 4)).toEqual([
      [1, -2, 3.5, 874965758000],
      [0, 1e6, NaN, -0.25],
    ]);
  });

  test('rows split anywhere across chunks parse the same', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -1e6, max: 1e9 }), fc.integer({ min: 1, max: 10 })), { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (rows, cuts) => {
          const text = rows.map(([a, b]) => `${a}\t${b / 2}\n`).join('');
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((x, y) => x - y);
          const chunks: string[] = [];
          let last = 0;
          for (const p of points) {
            chunks.push(text.slice(last, p));
            last = p;
          }
          chunks.push(text.slice(last));
          expect(parseAll(chunks, 2)).toEqual(rows.map(([a, b]) => [a, b / 2]));
        },
      ),
    );
  });

  test('reports malformed output with its row', () => {
    expect(() => parseAll(['1\t2\n3\n'], 2)).toThrow(/1 fields in row 2, expected 2/);
    expect(() => parseAll(['1\tx\n'], 2)).toThrow(/not a number: "x"/);
    expect(() => parseAll(['1\t2'], 2)).toThrow(/middle of a row/);
  });
});

describe('CopyRowWriter', () => {
  test('writes the same text as the string formatters', () => {
    const f = new TimestampFormatter();
    fc.assert(
      fc.property(
        fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
        fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }),
        fc.string(),
        (i, x, ms, s) => {
          const w = new CopyRowWriter(8); // tiny: exercises growth
          w.int(i).tab().number(x).tab().timestamp(ms / 1000).tab().text(s).tab().null().newline();
          expect(w.take().toString('utf8')).toBe(`${i}\t${x}\t${f.format(ms / 1000)}\t${copyText(s)}\t\\N\n`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('take() hands out the bytes and starts afresh', () => {
    const w = new CopyRowWriter();
    w.int(12).newline();
    const first = w.take();
    w.int(3).newline();
    expect(first.toString()).toBe('12\n');
    expect(w.take().toString()).toBe('3\n');
    expect(w.length).toBe(0);
  });
});

test('NumericRowParser parses decimals exactly as Number() does', () => {
  fc.assert(
    fc.property(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer({ min: -1e9, max: 1e12 }),
      fc.integer({ min: 0, max: 999_999 }),
      (x, secs, micros) => {
        const decimal = `${secs}.${String(micros).padStart(6, '0')}`;
        const out: number[] = [];
        const p = new NumericRowParser(2, (f) => out.push(f[0], f[1]));
        p.push(Buffer.from(`${x}\t${decimal}\n`));
        expect(out).toEqual([Number(String(x)), Number(decimal)]); // String(-0) is "0"
      },
    ),
    { numRuns: 3000 },
  );
});
