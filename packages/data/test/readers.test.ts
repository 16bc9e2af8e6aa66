import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv } from '../src/csv.js';
import { DataFormatError, ErrorSink, emptyReport } from '../src/errors.js';
import { readRatingFile } from '../src/ratings-reader.js';

function csv(text: string, sep = ','): { records: [string[], number][]; errors: [number, string][] } {
  const records: [string[], number][] = [];
  const errors: [number, string][] = [];
  parseCsv(text, { record: (f, l) => records.push([f, l]), error: (l, r) => errors.push([l, r]) }, sep);
  return { records, errors };
}

describe('parseCsv (RFC 4180)', () => {
  it('handles quoted separators, escaped quotes, CRLF, BOM and blank lines', () => {
    const text = '\ufeffa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,,\r\n3,"multi\nline",z\n4,last';
    const { records, errors } = csv(text);
    expect(errors).toEqual([]);
    expect(records).toEqual([
      [['a', 'b', 'c'], 1],
      [['1', 'x, y', 'say "hi"'], 2],
      [['2', '', ''], 4],
      [['3', 'multi\nline', 'z'], 5],
      [['4', 'last'], 7],
    ]);
  });

  it('reports an unterminated quote and text after a closing quote, then resumes', () => {
    const { records, errors } = csv('1,"ok"x,2\n3,4\n5,"never closed\n');
    expect(records).toEqual([[['3', '4'], 2]]);
    expect(errors).toEqual([
      [1, 'unexpected "x" after a closing quote'],
      [3, 'unterminated quoted field'],
    ]);
  });

  it('keeps a stray quote inside an unquoted field', () => {
    expect(csv('1,5" floppy,x').records[0][0]).toEqual(['1', '5" floppy', 'x']);
  });

  it('supports another single-character separator', () => {
    expect(csv('a\tb\n', '\t').records[0][0]).toEqual(['a', 'b']);
  });
});

describe('readRatingFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'netflicks-data-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: string | Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const strict = () => new ErrorSink(emptyReport(), false);

  it('parses CSV with BOM, header, CRLF, blank lines, spaces and quoted numbers', async () => {
    const p = write('r.csv', '\ufeffuserId,movieId,rating,timestamp\r\n1,10,4.5,100\r\n\r\n 2 , 20 ,"3",200\r\n3,30,.5,300');
    const t = await readRatingFile(p, { separator: ',', sink: strict() });
    expect(t.length).toBe(3);
    expect([...t.user]).toEqual([1, 2, 3]);
    expect([...t.item]).toEqual([10, 20, 30]);
    expect([...t.rating]).toEqual([4.5, 3, 0.5]);
    expect([...t.timestamp]).toEqual([100, 200, 300]);
  });

  it('parses tab and "::" separated files without a header', async () => {
    const tab = await readRatingFile(write('u.data', '196\t242\t3\t881250949\n186\t302\t3\t891717742\n'), {
      separator: '\t',
      header: false,
      sink: strict(),
    });
    expect([...tab.user]).toEqual([196, 186]);
    const dat = await readRatingFile(write('r.dat', '1::1193::5::978300760\n'), { separator: '::', header: false, sink: strict() });
    expect([dat.user[0], dat.item[0], dat.rating[0], dat.timestamp[0]]).toEqual([1, 1193, 5, 978300760]);
  });

  it('reads lines straddling read chunks at every offset (BOM, CRLF split too)', async () => {
    const rows = ['userId,movieId,rating,timestamp', '1,10,4.5,100', '', '22,200,3.0,2000', '333,3000,0.5,30000', '4,4,5,4'];
    const p = write('chunks.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rows.join('\r\n'))]));
    for (let chunkSize = 1; chunkSize <= 40; chunkSize++) {
      const t = await readRatingFile(p, { separator: ',', sink: strict(), chunkSize });
      expect([...t.user]).toEqual([1, 22, 333, 4]);
      expect([...t.item]).toEqual([10, 200, 3000, 4]);
      expect([...t.rating]).toEqual([4.5, 3, 0.5, 5]);
      expect([...t.timestamp]).toEqual([100, 2000, 30000, 4]);
    }
  });

  it('streams a multi-chunk file with progress', async () => {
    const n = 20_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${i + 1}\t${(i * 7919) % 100000}\t${(i % 5) + 1}\t${1_000_000_000 + i}`);
    const p = write('many.tsv', lines.join('\n') + '\n');
    const seen: number[] = [];
    const t = await readRatingFile(p, { separator: '\t', header: false, sink: strict(), chunkSize: 4096, onBytes: (r) => seen.push(r) });
    expect(t.length).toBe(n);
    expect(seen.length).toBeGreaterThan(10);
    expect(seen[seen.length - 1]).toBe(Buffer.byteLength(lines.join('\n') + '\n'));
    for (let i = 0; i < n; i += 97) {
      expect([t.user[i], t.item[i], t.rating[i], t.timestamp[i]]).toEqual([i + 1, (i * 7919) % 100000, (i % 5) + 1, 1_000_000_000 + i]);
    }
  });

  it.each([
    ['1,2,3', 'expected 4 fields separated by ",", got 3: "1,2,3"'],
    ['1,2,3,4,5', 'expected 4 fields separated by ",", got 5: "1,2,3,4,5"'],
    ['1,abc,3,4', 'bad number in field item: "abc"'],
    ['1,2,x,4', 'bad number in field rating: "x"'],
    ['1.5,2,3,4', 'bad number in field user: "1.5"'],
    ['1,2,5.5,4', 'rating 5.5 out of range 0.5..5'],
    ['1,2,0,4', 'rating 0 out of range 0.5..5'],
    ['1,99999999999,3,4', 'item id 99999999999 exceeds 32-bit range'],
  ])('rejects %j: %s', async (row, reason) => {
    const p = write('bad.csv', `userId,movieId,rating,timestamp\n1,1,4,1\n${row}\n`);
    const err = await readRatingFile(p, { separator: ',', sink: strict(), label: 'bad.csv' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    const e = err as DataFormatError;
    expect(e.file).toBe('bad.csv');
    expect(e.line).toBe(3);
    expect(e.reason).toBe(reason);
    expect(e.message).toBe(`bad.csv:3: ${reason}`);
  });

  it('lenient mode skips, counts and reports bad rows', async () => {
    const p = write('lenient.csv', '1,1,4,1\nnope\n2,2,4,2\n3,3,9,3\n');
    const sink = new ErrorSink(emptyReport(), true);
    const t = await readRatingFile(p, { separator: ',', header: false, sink, label: 'lenient.csv' });
    expect(t.length).toBe(2);
    expect(sink.report.skipped).toBe(2);
    expect(sink.report.firstErrors).toEqual([
      'lenient.csv:2: expected 4 fields separated by ",", got 1: "nope"',
      'lenient.csv:4: rating 9 out of range 0.5..5',
    ]);
  });

  it('returns an empty table for an empty file', async () => {
    const t = await readRatingFile(write('empty.csv', ''), { separator: ',', sink: strict() });
    expect(t.length).toBe(0);
  });
});
