/**
 * The online evaluator as deployed: its configuration, the service's /metrics after periodic runs
 * over real PostgreSQL, graceful shutdown, and `netflicks evaluate-online --once` (the compiled
 * CLI). The SQL's edge cases are covered in packages/db/test/online-evaluation.test.ts.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ConfigError, createLogger } from '@netflicks/platform';
import type pg from 'pg';
import { loadEvaluatorConfig, parseDurationSeconds, runOnlineEvaluator } from '../src/index.js';
import { describePostgres } from '../../../test/support/postgres.js';

const BIN = fileURLToPath(new URL('../../cli/bin/netflicks.js', import.meta.url));
const HOUR = 3600_000;
// An hour three days back: its bucket and the next are closed (24 h window, 10 min grace).
const BASE = Math.floor(Date.now() / HOUR) * HOUR - 72 * HOUR;
const t = (ms: number): Date => new Date(BASE + ms);

async function seed(pool: pg.Pool): Promise<void> {
  await pool.query("INSERT INTO movies (id, title) SELECT g, 'movie ' || g FROM generate_series(1, 10) g");
  await pool.query("INSERT INTO users (id, first_seen) SELECT g, '2020-01-01T00:00:00Z' FROM generate_series(1, 3) g");
  // v1/cf: user 1's list [1,2] → movie 1 watched an hour later (hit, 1 of 2 items); user 2's
  // list [3,4] → nothing (miss). v2/popularity: user 3's list [5] → rated 2 h later (hit, 1 of 1).
  await request(pool, 1, [1, 2], 'v1', 'cf', t(5 * 60_000));
  await request(pool, 2, [3, 4], 'v1', 'cf', t(10 * 60_000));
  await request(pool, 3, [5], 'v2', 'popularity', t(20 * 60_000));
  await pool.query(
    "INSERT INTO watch_events (event_id, user_id, movie_id, watched_seconds, completed, occurred_at) VALUES (gen_random_uuid(), 1, 1, 6000, true, $1)",
    [t(HOUR)],
  );
  await pool.query('INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (3, 5, 4.5, $1)', [t(2 * HOUR)]);
}

async function request(pool: pg.Pool, user: number, items: number[], model: string, strategy: string, at: Date): Promise<void> {
  await pool.query(
    'INSERT INTO recommendation_requests (event_id, request_id, user_id, items, strategy, model_version, occurred_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6)',
    [`r-${user}-${at.getTime()}`, user, items, strategy, model, at],
  );
}

/** The value of one series of a metric in Prometheus text format, found by its labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

describe('evaluator configuration', () => {
  test('durations', () => {
    expect(parseDurationSeconds('24h')).toBe(86_400);
    expect(parseDurationSeconds('90m')).toBe(5400);
    expect(parseDurationSeconds('7d')).toBe(604_800);
    expect(parseDurationSeconds('45')).toBe(45);
    expect(parseDurationSeconds(' 30S ')).toBe(30);
    for (const bad of ['', 'h', '1.5h', '-1h', '24 hours', '1w']) expect(parseDurationSeconds(bad)).toBeUndefined();
  });

  test('defaults: a 24 h window in 1 h buckets, 10 min grace, 600 s watches, every minute', () => {
    expect(loadEvaluatorConfig({})).toEqual({
      ONLINE_EVAL_WINDOW: 86_400,
      ONLINE_EVAL_BUCKET: 3600,
      ONLINE_EVAL_GRACE: 600,
      ONLINE_EVAL_MIN_WATCH_SECONDS: 600,
      ONLINE_EVAL_INTERVAL: 60,
      ONLINE_EVAL_METRICS_LOOKBACK: 604_800,
      ONLINE_EVAL_METRICS_PORT: 9103,
      ONLINE_EVAL_DB_POOL_SIZE: 2,
      ONLINE_EVAL_SHUTDOWN_TIMEOUT_MS: 20_000,
      LOG_LEVEL: 'info',
    });
  });

  test('every bad variable is reported at once, values never echoed', () => {
    let error: unknown;
    try {
      loadEvaluatorConfig({ ONLINE_EVAL_WINDOW: 'tomorrow', ONLINE_EVAL_BUCKET: '10s', DATABASE_URL: 'mysql://secret@x', ONLINE_EVAL_MIN_WATCH_SECONDS: '-5' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.map((i) => i.variable).sort();
    expect(issues).toEqual(['DATABASE_URL', 'ONLINE_EVAL_BUCKET', 'ONLINE_EVAL_MIN_WATCH_SECONDS', 'ONLINE_EVAL_WINDOW']);
    expect((error as Error).message).not.toContain('secret');
    expect(() => loadEvaluatorConfig({ ONLINE_EVAL_BUCKET: '2d', ONLINE_EVAL_METRICS_LOOKBACK: '1d' })).toThrow(/ONLINE_EVAL_METRICS_LOOKBACK: must be at least ONLINE_EVAL_BUCKET/);
  });
});

await describePostgres('online evaluator service', (db) => {
  const logger = createLogger({ component: 'online-evaluator-test', level: process.env.LOG_LEVEL ?? 'silent' });

  test('exports hit rate, click-through and evaluated lists per model version and strategy; counts each list once; drains on SIGTERM', async () => {
    await seed(db.pool);
    const signals = new EventEmitter();
    const exits: number[] = [];
    const config = loadEvaluatorConfig({ DATABASE_URL: db.url, ONLINE_EVAL_METRICS_PORT: '0', ONLINE_EVAL_INTERVAL: '3600' });
    const running = await runOnlineEvaluator(config, { logger, exit: (code) => exits.push(code), signalSource: signals });
    try {
      await running.evaluator.runOnce(); // the start-up run, or a second one after it: same state
      const metrics = async (): Promise<string> => (await fetch(`${running.health.url}/metrics`)).text();
      let text = await metrics();
      const v1 = { model_version: 'v1', strategy: 'cf' };
      const v2 = { model_version: 'v2', strategy: 'popularity' };
      expect(sample(text, 'recommend_online_hit_rate', v1)).toBe(0.5);
      expect(sample(text, 'recommend_online_click_through_rate', v1)).toBe(0.25);
      expect(sample(text, 'recommend_online_evaluated_requests_total', v1)).toBe(2);
      expect(sample(text, 'recommend_online_hit_rate', v2)).toBe(1);
      expect(sample(text, 'recommend_online_click_through_rate', v2)).toBe(1);
      expect(sample(text, 'recommend_online_evaluated_requests_total', v2)).toBe(1);
      expect(sample(text, 'recommend_online_evaluation_watermark_seconds')).toBe((BASE + HOUR) / 1000);
      expect(sample(text, 'recommend_online_evaluation_runs_total', { result: 'failure' })).toBeUndefined();
      expect((await fetch(`${running.health.url}/readyz`)).status).toBe(200);

      // A later list of user 2, rated 5 min after: a hit. Only it is added to the counter.
      await request(db.pool, 2, [6], 'v1', 'cf', t(HOUR + 5 * 60_000));
      await db.pool.query('INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (2, 6, 3, $1)', [t(HOUR + 10 * 60_000)]);
      const second = await running.evaluator.runOnce();
      expect(second?.buckets.map((b) => b.bucketStart.getTime())).toEqual([BASE + HOUR]);
      text = await metrics();
      expect(sample(text, 'recommend_online_hit_rate', v1)).toBeCloseTo(2 / 3, 12);
      expect(sample(text, 'recommend_online_click_through_rate', v1)).toBe(0.4);
      expect(sample(text, 'recommend_online_evaluated_requests_total', v1)).toBe(3);
      expect(sample(text, 'recommend_online_evaluated_requests_total', v2)).toBe(1);
      expect(sample(text, 'recommend_online_evaluation_watermark_seconds')).toBe((BASE + 2 * HOUR) / 1000);
      // Nothing new: the counter stays.
      expect((await running.evaluator.runOnce())?.buckets).toEqual([]);
      expect(sample(await metrics(), 'recommend_online_evaluated_requests_total', v1)).toBe(3);
    } finally {
      signals.emit('SIGTERM', 'SIGTERM');
      expect(await running.finished).toBe(0);
    }
    expect(exits).toEqual([0]);
  });

  test('a failing run is counted and retried; the next run catches up', async () => {
    const fresh = await db.createDatabase();
    await seed(fresh.pool);
    const config = loadEvaluatorConfig({ DATABASE_URL: fresh.url, ONLINE_EVAL_METRICS_PORT: '0', ONLINE_EVAL_INTERVAL: '3600' });
    const running = await runOnlineEvaluator(config, { logger, exit: () => {}, signalSource: new EventEmitter() });
    try {
      await running.evaluator.runOnce();
      // Take the results table away: the next run fails (as a lost database would).
      await fresh.pool.query('ALTER TABLE online_evaluation_results RENAME TO moved_away');
      await request(fresh.pool, 2, [6], 'v1', 'cf', t(HOUR + 5 * 60_000));
      expect(await running.evaluator.runOnce()).toBeNull();
      const text = await (await fetch(`${running.health.url}/metrics`)).text();
      expect(sample(text, 'recommend_online_evaluation_runs_total', { result: 'failure' })).toBe(1);
      await fresh.pool.query('ALTER TABLE moved_away RENAME TO online_evaluation_results');
      expect((await running.evaluator.runOnce())?.buckets).toHaveLength(1);
      expect((await fetch(`${running.health.url}/readyz`)).status).toBe(200);
    } finally {
      await running.stop();
    }
  });

  test('netflicks evaluate-online --once --json: evaluates, prints the rates, and counts nothing twice when run again', async () => {
    const fresh = await db.createDatabase();
    await seed(fresh.pool);
    const once = (format: string[] = ['--json']): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [BIN, 'evaluate-online', '--once', ...format, '--window', '24h', '--database-url', fresh.url], {
          env: { ...process.env, NODE_OPTIONS: '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.once('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const rates = [
      { modelVersion: 'v1', strategy: 'cf', requests: 2, hits: 1, itemsServed: 4, itemsEngaged: 1, hitRate: 0.5, clickThroughRate: 0.25 },
      { modelVersion: 'v2', strategy: 'popularity', requests: 1, hits: 1, itemsServed: 1, itemsEngaged: 1, hitRate: 1, clickThroughRate: 1 },
    ];
    const first = await once();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({
      windowSeconds: 86_400,
      minWatchSeconds: 600,
      bucketsEvaluated: 1,
      requestsEvaluated: 3,
      evaluatedUntil: new Date(BASE + HOUR).toISOString(),
      lookbackSeconds: 604_800,
      rates,
    });
    const second = await once();
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ bucketsEvaluated: 0, requestsEvaluated: 0, rates });
    // The table for people.
    const text = await once([]);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')).toEqual([
      `evaluated 0 new bucket(s), 0 served list(s); every list before ${new Date(BASE + HOUR).toISOString()} is evaluated`,
      'model version    strategy  lists  hit rate  items  click-through',
      '-------------  ----------  -----  --------  -----  -------------',
      'v1                     cf      2    50.00%      4         25.00%',
      'v2             popularity      1   100.00%      1        100.00%',
      '',
    ]);
    const bad = await once(['--window', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--window.*duration/);
  }, 90_000);
});
