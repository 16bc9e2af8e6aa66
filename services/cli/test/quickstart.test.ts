/**
 * `netflicks quickstart` end to end (compiled CLI, real PostgreSQL; with KAFKA_BROKERS through the
 * real broker): data → ingest → train → validate → promote → the API answers → Ctrl-C exits 0;
 * a second run reuses the data and the live model; another dataset is refused until --reset.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSynthetic } from '@netflicks/data';
import { describePostgres } from '../../../test/support/postgres.js';
import { ensureKafka, uniqueName } from '../../../test/support/kafka.js';

const BIN = fileURLToPath(new URL('../bin/netflicks.js', import.meta.url));
const SMALL = ['--users', '120', '--movies', '150', '--ratings', '5000', '--port', '0'];

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

function startQuickstart(args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, [BIN, 'quickstart', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`quickstart did not come up:\n${err}`)), 180_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /Netflicks is up in [\d.]+ s: model "\S+" v\d+ at (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`quickstart exited with ${code}:\n${err}`));
    });
  });
}

/** A MovieLens-format folder (ratings.csv, movies.csv) holding a synthetic world of another seed. */
async function movielensFolder(ratings: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netflicks-qs-ml-'));
  const { dataset } = generateSynthetic({ users: 100, movies: 120, ratings, seed: 9 });
  const r = dataset.ratings;
  const rows = Array.from({ length: r.length }, (_, i) => `${r.user[i]},${r.item[i]},${r.rating[i]},${r.timestamp[i]}`);
  await writeFile(join(dir, 'ratings.csv'), `userId,movieId,rating,timestamp\n${rows.join('\n')}\n`);
  const movies = dataset.movies.map((m) => `${m.id},"${m.title} (${m.year})",${m.genres.join('|')}`);
  await writeFile(join(dir, 'movies.csv'), `movieId,title,genres\n${movies.join('\n')}\n`);
  return dir;
}

function runToExit(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'quickstart', ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
    });
  });
}

async function stop(s: Started): Promise<number | null> {
  const exited = new Promise<number | null>((r) => s.child.once('exit', (code) => r(code)));
  s.child.kill('SIGINT');
  return exited;
}

await describePostgres('netflicks quickstart', (db) => {
  test('in-process transport: trains, promotes, serves; Ctrl-C exits 0; a second run reuses everything', async () => {
    const fresh = await db.createDatabase({ migrate: false });
    const env = { DATABASE_URL: fresh.url, KAFKA_BROKERS: '' };
    const first = await startQuickstart(SMALL, env);
    const log = first.stderr();
    expect(log).toMatch(/importing history into PostgreSQL done in [\d.]+s 4500 ratings, 150 movies/);
    expect(log).toMatch(/streamed \d+ events \(in-process\): \d+ ingested, 0 dead-lettered/);
    expect(log).toContain('validation passed');
    expect(log).toContain('v1 is live');
    const rec = (await (await fetch(`${first.url}/recommend/999999?k=3`)).json()) as { strategy: string; model: { name: string; version: number }; items: unknown[] };
    expect(rec).toMatchObject({ strategy: 'popularity', model: { name: 'quickstart', version: 1 } });
    expect(rec.items).toHaveLength(3);
    // The console's address is printed just after the "is up" line.
    for (let i = 0; i < 50 && !/console: http/.test(first.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
    const consoleUrl = /console: (http:\/\/\S+)/.exec(first.stderr())?.[1];
    expect(consoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/console#user\/\d+$/);
    expect((await fetch(consoleUrl!)).status).toBe(200);
    expect(await stop(first)).toBe(0);

    const { rows } = await fresh.pool.query<{ n: number; events: number }>(
      "SELECT (SELECT count(*)::int FROM ratings) AS n, (SELECT count(*)::int FROM processed_events WHERE topic = 'netflicks.ratings') AS events",
    );
    expect(rows[0]).toEqual({ n: 5000, events: 500 });

    const second = await startQuickstart(SMALL, env);
    expect(second.stderr()).toContain('reusing the 5000 ratings already in the database: the synthetic world (120 users, 150 movies, 5000 ratings, seed 42)');
    expect(second.stderr()).toContain('v1 of "quickstart" is live and was trained on exactly this data: not retraining');
    expect(second.stderr()).not.toContain('initialises');
    expect(await stop(second)).toBe(0);
    expect(second.stderr().trimEnd().split('\n').at(-1)).toBe('stopped');
  });

  test('another dataset than the database holds is refused with what to do; --reset starts from an empty database', async () => {
    const fresh = await db.createDatabase({ migrate: false });
    const env = { DATABASE_URL: fresh.url, KAFKA_BROKERS: '' };
    const ml = await movielensFolder(4000);
    try {
      const first = await startQuickstart(SMALL, env);
      expect(await stop(first)).toBe(0);

      const refused = await runToExit(['--movielens', ml, '--port', '0'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr.trimEnd().split('\n').at(-1)).toBe(
        `netflicks: the database holds the synthetic world (120 users, 150 movies, 5000 ratings, seed 42), not MovieLens ml-csv from ${ml}: add --reset to start from an empty database with it (drops the ratings and models there), or leave out the dataset flags to keep using what is there`,
      );
      expect(refused.stderr).not.toMatch(/training|importing/);
      const resized = await runToExit([...SMALL, '--ratings', '6000'], env);
      expect(resized.code).toBe(1);
      expect(resized.stderr).toContain('not the synthetic world (120 users, 150 movies, 6000 ratings, seed 42): add --reset');
      const kept = await fresh.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ratings');
      expect(kept.rows[0].n).toBe(5000);

      const reset = await startQuickstart(['--movielens', ml, '--reset', '--port', '0'], env);
      const log = reset.stderr();
      expect(log).toContain('--reset: the database is empty');
      expect(log).toMatch(/importing history into PostgreSQL done in [\d.]+s 3600 ratings, 120 movies/);
      expect(log).toContain('v1 is live'); // the registry went with the old data
      const rec = (await (await fetch(`${reset.url}/movies/1`)).json()) as { title: string };
      expect(rec.title).toBe(generateSynthetic({ users: 100, movies: 120, ratings: 4000, seed: 9 }).dataset.movies[0].title);
      expect(await stop(reset)).toBe(0);
      const { rows } = await fresh.pool.query<{ n: number; source: string; versions: number }>(
        'SELECT (SELECT count(*)::int FROM ratings) AS n, (SELECT dataset FROM dataset_imports) AS source, (SELECT count(*)::int FROM model_versions) AS versions',
      );
      expect(rows[0]).toEqual({ n: 4000, source: expect.stringMatching(/^ml-csv sha256:[0-9a-f]{16}$/), versions: 1 });

      // The same data again (no dataset flags, or the same folder): reused.
      const again = await runToExit(['--movielens', ml, '--port', '99999'], env);
      expect(again.code).toBe(2); // flags first: nothing was touched
      const same = await startQuickstart(['--movielens', ml, '--port', '0'], env);
      expect(same.stderr()).toContain(`reusing the 4000 ratings already in the database: MovieLens ml-csv (${rows[0].source})`);
      expect(await stop(same)).toBe(0);
    } finally {
      await rm(ml, { recursive: true, force: true });
    }
  });

  test('with KAFKA_BROKERS the events go through the real broker and ingest consumer', async () => {
    const kafka = await ensureKafka();
    if (!kafka) return; // ensureKafka already failed the test under CI, or printed why it skips
    const fresh = await db.createDatabase({ migrate: false });
    // Topics of its own: the shared test broker holds other suites' events.
    const topics = { INGEST_TOPIC_RATINGS: uniqueName('qs-ratings'), INGEST_TOPIC_WATCH_EVENTS: uniqueName('qs-watch'), INGEST_TOPIC_RECOMMENDATION_REQUESTS: uniqueName('qs-recs') };
    const s = await startQuickstart([...SMALL, '--model', 'viakafka'], { DATABASE_URL: fresh.url, KAFKA_BROKERS: kafka.brokers.join(','), INGEST_GROUP_ID: uniqueName('qs-group'), ...topics });
    expect(s.stderr()).toMatch(/streamed \d+ events \(kafka [^)]+\): \d+ ingested, 0 dead-lettered/);
    expect(await stop(s)).toBe(0);
    const { rows } = await fresh.pool.query<{ events: number }>('SELECT count(*)::int AS events FROM processed_events WHERE topic = $1', [topics.INGEST_TOPIC_RATINGS]);
    expect(rows[0].events).toBe(500);
  });
});
