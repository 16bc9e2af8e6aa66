/**
 * The whole data flow of the design in one test, on real Kafka and real PostgreSQL:
 *
 *   simulator → Kafka → ingest → PostgreSQL → trainer → registry (validated, promoted)
 *   → the API serves the live version → a brand-new user's ratings arrive through Kafka and their
 *   recommendations change without retraining (fold-in) → a second run is promoted while a load
 *   generator runs, and the API switches versions with zero failed requests → online hit rate.
 */
import { generateSynthetic } from '@netflicks/data';
import { createPool, getLiveVersion, importDataset, promoteModelVersion, validateModelVersion } from '@netflicks/db';
import { IngestService } from '@netflicks/ingest';
import { OnlineEvaluator, createOnlineEvaluatorMetrics } from '@netflicks/online-evaluator';
import { createKafka, createLogger, createMetricsRegistry, type Producer } from '@netflicks/platform';
import { loadApiConfig, runRecommendApi, type RunningApi } from '@netflicks/recommend-api';
import { emptyRatingTable, parseValidationPolicy } from '@netflicks/recsys';
import { simulate } from '@netflicks/simulator';
import type { TrainerSummary } from '@netflicks/contracts';
import { runTrainerJob } from '@netflicks/trainer';
import { ensureKafka, uniqueName, waitFor } from '../support/kafka.js';
import { underLoad } from '../support/load.js';
import { describePostgres } from '../support/postgres.js';

const silent = createLogger({ component: 'pipeline-e2e', level: 'silent' });
const broker = await ensureKafka('the whole-pipeline end-to-end test');

interface Recommendation {
  userId: number;
  strategy: string;
  model: { name: string; version: number };
  items: { movieId: number }[];
}

await describePostgres('whole pipeline: simulator → Kafka → ingest → PostgreSQL → trainer → registry → API', (db) => {
  if (!broker) return;
  const brokers = broker.brokers;
  const topics = { ratings: uniqueName('e2e-ratings'), watchEvents: uniqueName('e2e-watch'), recommendationRequests: uniqueName('e2e-recs') };
  const contract: Record<string, string> = {
    'netflicks.ratings': topics.ratings,
    'netflicks.watch-events': topics.watchEvents,
    'netflicks.recommendation-requests': topics.recommendationRequests,
  };
  const world = generateSynthetic({ users: 200, movies: 250, ratings: 9000, seed: 21 });
  const kafka = createKafka({ clientId: 'pipeline-e2e', brokers, logger: silent });
  let ingest: IngestService;
  let producer: Producer;
  let api: RunningApi | undefined;
  const NEW_USER = 900_001;

  const train = async (run: string): Promise<TrainerSummary> => {
    const out = await runTrainerJob({
      env: { MODEL_NAME: 'films', TRAINING_RUN: run, DATABASE_URL: db.url, THREADS: '2', HYPERPARAMETERS: 'factors=16,iterations=6,hybrid.minHistory=5', TERMINATION_MESSAGE_PATH: '/nonexistent/t' },
      log: silent,
      progress: () => ({ update: () => {}, done: () => {} }),
      stdout: () => {},
    });
    if (out.exitCode !== 0 || !out.summary) throw new Error(`trainer failed: ${out.error?.message}`);
    return out.summary;
  };
  const recommend = async (user: number): Promise<Recommendation> => {
    const res = await fetch(`${api?.url}/recommend/${user}?k=10`);
    expect(res.status).toBe(200);
    return (await res.json()) as Recommendation;
  };
  const rate = async (user: number, movieId: number, rating: number, at: Date): Promise<void> => {
    const event = { eventId: crypto.randomUUID(), type: 'rating', schemaVersion: 1, userId: user, movieId, rating, occurredAt: at.toISOString() };
    await producer.send(topics.ratings, [{ key: String(user), value: Buffer.from(JSON.stringify(event)) }]);
  };

  beforeAll(async () => {
    // The catalogue only; every rating arrives as an event.
    await importDataset(db.pool, { ...world.dataset, ratings: emptyRatingTable(0), folds: undefined });
    ingest = new IngestService({ kafka, pool: createPool(db.url, { max: 4 }), logger: silent, groupId: uniqueName('e2e-ingest'), topics, topicPartitions: 3 });
    await ingest.start();
    await ingest.whenJoined(60_000);
    producer = await kafka.producer();
  });
  afterAll(async () => {
    await api?.stop('test done');
    await producer?.disconnect();
    await ingest?.stop();
  });

  test('1. the simulator streams every rating through Kafka; ingest writes them all to PostgreSQL', async () => {
    const summary = await simulate(world.dataset, { send: (topic, messages) => producer.send(contract[topic] ?? topic, messages) }, { seed: 3, time: 'original', batchSize: 1000 });
    expect(summary.exhausted).toBe(true);
    expect(summary.byType.rating).toBe(9000);
    await waitFor('ingest to consume every event', () => ingest.stats().consumed >= summary.total, 120_000, 200);
    const stats = ingest.stats();
    expect(stats.deadLettered).toBe(0);
    const { rows } = await db.pool.query<{ ratings: number; watches: number }>(
      'SELECT (SELECT count(*)::int FROM ratings) AS ratings, (SELECT count(*)::int FROM watch_events) AS watches',
    );
    expect(rows[0]).toEqual({ ratings: 9000, watches: summary.byType.watch });
  });

  test('2. the trainer registers v1; the gate validates it; it is promoted', async () => {
    const v1 = await train('run-1');
    expect(v1).toMatchObject({ model: 'films', version: 1, state: 'candidate', data: { ratings: 9000 } });
    const { verdict } = await validateModelVersion(db.pool, 'films', 1, parseValidationPolicy({ maxRMSE: '1.2', minHitRateAt10: '0.01' }), { actor: 'e2e' });
    expect(verdict.outcome).toBe('passed');
    await promoteModelVersion(db.pool, 'films', 1, { actor: 'e2e' });
    expect((await getLiveVersion(db.pool, 'films'))?.version).toBe(1);
  });

  test('3. the API serves the live version from the registry', async () => {
    const env: NodeJS.ProcessEnv = {
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_NAME: 'films',
      DATABASE_URL: db.url,
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_TOPIC_RECOMMENDATIONS: topics.recommendationRequests,
      FRESH_RATINGS_TTL_MS: '0',
      LOG_LEVEL: 'silent',
    };
    api = await runRecommendApi(loadApiConfig(env), { env, exit: () => {} });
    const known = world.dataset.ratings.user[0];
    const r = await recommend(known);
    expect(r.model).toEqual({ name: 'films', version: 1 });
    expect(r.strategy).toBe('cf');
    expect(r.items).toHaveLength(10);
  });

  test('4. a brand-new user rates through Kafka and is personalised by fold-in, without retraining', async () => {
    const before = await recommend(NEW_USER);
    expect(before.strategy).toBe('popularity');
    // Six ratings of the most popular movies' neighbours: enough history for CF (minHistory 5).
    const rated = before.items.slice(0, 6).map((it) => it.movieId);
    const now = Date.now();
    for (const [i, movieId] of rated.entries()) await rate(NEW_USER, movieId, 5 - (i % 2), new Date(now + i * 1000));
    await waitFor('the new ratings in PostgreSQL', async () => {
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ratings WHERE user_id = $1', [NEW_USER]);
      return rows[0].n === rated.length;
    }, 60_000, 200);
    const after = await recommend(NEW_USER);
    expect(after.strategy).toBe('cf');
    expect(after.model.version).toBe(1); // no retraining happened
    expect(after.items.map((i) => i.movieId).filter((m) => rated.includes(m))).toEqual([]); // never what they rated
    expect(after.items.map((i) => i.movieId)).not.toEqual(before.items.map((i) => i.movieId));
  });

  test('5. a second run is promoted under load; the API switches versions with zero failed requests', async () => {
    const users = Array.from(new Set(world.dataset.ratings.user)).slice(0, 50);
    let ok = 0;
    const failures: string[] = [];
    const versions = new Set<number>();
    const request = async (client: number, j: number): Promise<void> => {
      try {
        const res = await fetch(`${api?.url}/recommend/${users[(client + 4 * j) % users.length]}?k=10`);
        if (res.status !== 200) failures.push(`HTTP ${res.status}`);
        else {
          versions.add(((await res.json()) as Recommendation).model.version);
          ok++;
        }
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    };
    await underLoad(4, request, async () => {
      const v2 = await train('run-2');
      expect(v2.version).toBe(2);
      // The new user's newest rating is unseen by v1: the baseline compares both on it.
      expect(v2.baseline?.version).toBe(1);
      const { verdict } = await validateModelVersion(db.pool, 'films', 2, parseValidationPolicy({ maxRMSE: '1.2', maxRegression: '1' }), { actor: 'e2e' });
      expect(verdict.outcome).not.toBe('failed');
      await promoteModelVersion(db.pool, 'films', 2, { actor: 'e2e', force: verdict.outcome !== 'passed' });
      await waitFor('the API to serve v2', async () => (await recommend(users[0])).model.version === 2, 30_000, 100);
      const okAtSwap = ok;
      await waitFor('more load after the swap', () => ok > okAtSwap + 50, 30_000, 50);
    });
    expect(failures).toEqual([]);
    expect([...versions].sort()).toEqual([1, 2]);
    expect(ok).toBeGreaterThan(100);
  });

  test('6. served lists flow back through Kafka; a later rating of a served movie shows up as online hit rate', async () => {
    // The API published a recommendation-request event per served list (to the test's topic);
    // ingest stored them. The new user now rates one movie of the last list they were served.
    await waitFor('recommendation requests in PostgreSQL', async () => {
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recommendation_requests WHERE user_id = $1', [NEW_USER]);
      return rows[0].n >= 2;
    }, 60_000, 200);
    const served = await recommend(NEW_USER);
    await waitFor('that list stored', async () => {
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recommendation_requests WHERE request_id = $1', [
        (served as Recommendation & { requestId: string }).requestId,
      ]);
      return rows[0].n === 1;
    }, 60_000, 200);
    await rate(NEW_USER, served.items[0].movieId, 4.5, new Date(Date.now() + 2000));
    await waitFor('the rating stored', async () => {
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ratings WHERE user_id = $1 AND movie_id = $2', [NEW_USER, served.items[0].movieId]);
      return rows[0].n === 1;
    }, 60_000, 200);

    // The evaluator with a 60 s window, its clock two hours ahead so every window has closed.
    const registry = createMetricsRegistry({ processMetrics: false });
    const evaluator = new OnlineEvaluator({
      pool: db.pool,
      logger: silent,
      metrics: createOnlineEvaluatorMetrics(registry),
      evaluation: { windowSeconds: 60, bucketSeconds: 60, graceSeconds: 0, minWatchSeconds: 600 },
      now: () => new Date(Date.now() + 2 * 3600_000),
    });
    const run = await evaluator.runOnce();
    expect(run?.buckets.length).toBeGreaterThan(0);
    const text = await registry.metrics();
    const hitRates = [...text.matchAll(/^recommend_online_hit_rate\{([^}]*)\} ([0-9.e+-]+)$/gm)].map((m) => ({ labels: m[1], value: Number(m[2]) }));
    expect(hitRates.length).toBeGreaterThan(0);
    expect(hitRates.some((h) => h.value > 0)).toBe(true);
    const { rows } = await db.pool.query<{ hits: number }>('SELECT coalesce(sum(hits), 0)::int AS hits FROM online_evaluation_results');
    expect(rows[0].hits).toBeGreaterThan(0);
  });
});
