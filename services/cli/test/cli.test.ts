import { execFile } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Runs the compiled CLI as a user would (`npm test` builds it first with `tsc -b`).
const BIN = fileURLToPath(new URL('../bin/netflicks.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../packages/data/test/fixtures/', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 1 << 24, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const SMALL = ['--format', 'synthetic', '--users', '120', '--movies', '200', '--ratings', '6000', '--threads', '1'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netflicks-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('netflicks CLI', () => {
  test('--help lists the commands', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['evaluate', 'train', 'recommend', 'data']) expect(r.stdout).toContain(c);
  });

  test('--version and version print the package version', async () => {
    const { version } = JSON.parse(await readFile(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(await cli(['version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(JSON.parse((await cli(['version', '--json'])).stdout)).toEqual({ version });
  });

  test("a command's help ends with examples and shows defaults as typed", async () => {
    const r = await cli(['evaluate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('(default: als,ials,content,popularity,hybrid)');
    expect(r.stdout.trimEnd()).toMatch(/Examples:\n {2}\$ netflicks evaluate .+\n {2}\$ netflicks evaluate .+$/);
  });

  test.each([
    [['evaluate', '--format', 'synthetic', '--factors', 'ten'], /--factors.*must be a positive integer/],
    [['evaluate', '--format', 'csv'], /--format.*(ml-100k|choices)/],
    [['evaluate', '--format', 'synthetic', '--bogus'], /unknown option '--bogus'/],
    [['evaluate', '--formt', 'synthetic'], /^netflicks: unknown option '--formt' \(did you mean --format\?\)$/],
    [['evalute', '--format', 'synthetic'], /^netflicks: unknown command 'evalute' \(did you mean evaluate\?\)$/],
    [['recommend', '--model', '/nonexistent/model.nflx', '--user', '1'], /^netflicks: --model \/nonexistent\/model\.nflx: no such file$/],
    [['evaluate', '--format', 'ml-csv', '--path', '/nonexistent'], /^netflicks: --path \/nonexistent: no such folder$/],
    [['train', '--format', 'synthetic', '--out', '/nonexistent/m.nflx'], /^netflicks: --out \/nonexistent\/m\.nflx: folder \/nonexistent does not exist$/],
    [['evaluate', '--format', 'synthetic', '--algorithms', 'als,svd'], /unknown 'svd'/],
    [['evaluate', '--format', 'synthetic', '--split', 'kfold:1'], /kfold/],
    [['recommend', '--user', '1'], /--model/],
  ])('bad flags %j give a one-line error and exit 2', async (args, pattern) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });

  test('a file that cannot be read is reported in the CLI\'s words, not as ENOENT/EISDIR', async () => {
    const r = await cli(['recommend', '--model', dir, '--user', '1']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(`netflicks: --model ${dir}: is a folder, not a file\n`);
  });

  describe('quickstart checks its flags before any work: non-zero, one line naming the flag', () => {
    // Any work would show: DATABASE_URL points nowhere and the embedded server's port is invalid.
    const nowhere = { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none', NETFLICKS_PG_PORT: 'not-a-port', KAFKA_BROKERS: '' };
    let busy: Server;
    let busyPort: number;
    beforeAll(async () => {
      busy = createServer();
      await new Promise<void>((r) => busy.listen(0, '0.0.0.0', r));
      busyPort = (busy.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise((r) => busy.close(r));
    });

    test.each([
      [['--port', '99999'], '--port 99999: must be a port number 0..65535'],
      [['--movielens', '/nonexistent/ml-100k'], '--movielens /nonexistent/ml-100k: no such folder (download one with `netflicks data fetch ml-100k`)'],
      [['--stream-fraction', '1.5'], '--stream-fraction 1.5: must be a number in [0, 1)'],
      [['--model', 'Bad_Name'], '--model Bad_Name: a model name is lower-case letters, digits and dashes (a DNS label)'],
      [['--movielens', FIXTURES, '--users', '10'], "--movielens " + FIXTURES + ": no u.data, ratings.dat or ratings.csv in that folder (download one with `netflicks data fetch ml-100k`)"],
      [['--movielens', join(FIXTURES, 'ml-100k-mini'), '--users', '10'], '--users sizes the synthetic world; it cannot be combined with --movielens'],
      [['--formt', 'x'], "unknown option '--formt' (did you mean --port?)"],
    ])('quickstart %j', async (args, message) => {
      const t0 = performance.now();
      const r = await cli(['quickstart', ...args], nowhere);
      expect(r).toEqual({ code: 2, stdout: '', stderr: `netflicks: ${message}\n` });
      expect(performance.now() - t0).toBeLessThan(10_000);
    });

    test('a busy port', async () => {
      const r = await cli(['quickstart', '--port', String(busyPort)], nowhere);
      expect(r).toEqual({ code: 2, stdout: '', stderr: `netflicks: --port ${busyPort}: the port is in use on 0.0.0.0 (choose another, or --port 0 for any free one)\n` });
    });
  });

  test('evaluate --json prints one JSON document with every algorithm and metric', async () => {
    const r = await cli(['evaluate', ...SMALL, '--split', 'stratified:0.75', '--iterations', '4', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.split).toBe('stratified:0.75');
    expect(report.dataset.name).toBe('synthetic');
    expect(report.results.map((x: { algorithm: string }) => x.algorithm)).toEqual(['als', 'ials', 'content', 'popularity', 'hybrid']);
    const als = report.results[0];
    expect(Object.keys(als.metrics)).toEqual(
      expect.arrayContaining(['rmse', 'mae', 'precision@10', 'recall@10', 'ndcg@10', 'map@10', 'hitrate@10', 'coverage']),
    );
    expect(als.metrics.rmse).toBeGreaterThan(0.3);
    expect(als.metrics.rmse).toBeLessThan(1.5);
    for (const res of report.results) {
      expect(res.metrics['hitrate@10']).toBeGreaterThanOrEqual(res.metrics['precision@10']);
      expect(res.metrics.coverage).toBeGreaterThan(0);
      expect(res.metrics.coverage).toBeLessThanOrEqual(1);
    }
    expect(r.stderr).toContain('training ials');
  });

  test('evaluate on MovieLens-100K official folds from a fixture prints a table', async () => {
    const r = await cli(['evaluate', '--format', 'ml-100k', '--path', join(FIXTURES, 'ml-100k-mini'), '--algorithms', 'als,popularity', '--iterations', '3', '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/split folds/);
    expect(r.stdout).toMatch(/^als\s+\d\.\d{4}/m);
    expect(r.stdout).toMatch(/^popularity\s+/m);
  });

  test('a malformed dataset row is reported with file and line, no stack trace', async () => {
    const r = await cli(['evaluate', '--format', 'ml-csv', '--path', join(FIXTURES, 'ml-csv-bad')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\.csv:\d+: /);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  test('train writes a hybrid bundle; recommend serves known and unknown users; corrupt files are refused', async () => {
    const model = join(dir, 'model.nflx');
    const t = await cli(['train', ...SMALL, '--iterations', '4', '--algorithms', 'hybrid', '--out', model]);
    expect(t.code).toBe(0);
    const summary = JSON.parse(t.stdout);
    expect(summary.algorithms).toEqual(['hybrid', 'als', 'ials', 'content', 'popularity']);

    const known = await cli(['recommend', '--model', model, '--user', '1', '-k', '5', '--json']);
    expect(known.code).toBe(0);
    const rec = JSON.parse(known.stdout);
    expect(rec.strategy).toBe('cf');
    expect(rec.items).toHaveLength(5);
    expect(typeof rec.items[0].title).toBe('string');

    const unknown = await cli(['recommend', '--model', model, '--user', '999999', '-k', '3']);
    expect(unknown.code).toBe(0);
    expect(unknown.stdout).toContain('strategy popularity');

    const bytes = await readFile(model);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    const corrupt = join(dir, 'corrupt.nflx');
    await writeFile(corrupt, bytes);
    const bad = await cli(['recommend', '--model', corrupt, '--user', '1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/checksum/i);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
