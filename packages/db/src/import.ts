/**
 * Bulk import of a loaded Dataset (catalogue + columnar ratings) with COPY, in one transaction.
 *
 * - movies/genres/movie_genres/users: staged in temp tables, then upserted (re-import safe).
 * - ratings (latest per pair) and rating_history (every row): COPY straight into the table when it
 *   is empty (truncated first in the same transaction: with wal_level=minimal, as on the embedded
 *   server, PostgreSQL then skips the WAL); otherwise staged and merged keeping the newer rating.
 *   A large load defers the table's secondary indexes and foreign keys to the end.
 * - Re-importing a dataset of the same name replaces that dataset's earlier history rows.
 * - Ratings of movies missing from the catalogue, or with an impossible value or time, are
 *   skipped and counted (the schema would reject them, failing the whole import).
 */
import type { Dataset, Movie, ProgressFn, RatingTable } from '@netflicks/recsys';
import type pg from 'pg';
import { CHUNK_BYTES, CopyRowWriter, TimestampFormatter, copyIn } from './copy.js';
import { withContext } from './errors.js';
import { withTransaction } from './pool.js';

export interface ImportOptions {
  onProgress?: ProgressFn;
  /** Overrides dataset.name as the import's name (re-imports under one name replace each other). */
  name?: string;
}

/** Counts of rows written: for movies, users and ratings, rows inserted or changed (0 on an identical re-import). */
export interface ImportResult {
  dataset: string;
  importId: number;
  movies: number;
  /** Distinct genre names in the dataset. */
  genres: number;
  movieGenres: number;
  /** Users inserted, or whose first_seen moved earlier. */
  users: number;
  /** Rows of `ratings` inserted or changed. */
  ratings: number;
  /** Rows added to rating_history. */
  history: number;
  /** History rows of an earlier import of the same dataset that were replaced. */
  replacedHistory: number;
  skipped: { unknownMovie: number; invalid: number };
  /** How each rating table was written: 'copy' (empty table) or 'merge'. */
  ratingsPath: 'copy' | 'merge';
  historyPath: 'copy' | 'append';
  seconds: number;
}

const INT4_MAX = 2_147_483_647;

export async function importDataset(pool: pg.Pool, dataset: Dataset, opts: ImportOptions = {}): Promise<ImportResult> {
  const t0 = performance.now();
  const name = opts.name ?? dataset.name;
  const progress = opts.onProgress ?? (() => {});
  const movies = dedupeMovies(dataset.movies);
  progress(0, 'movies');

  const result = await withTransaction(pool, async (client) => {
    await client.query("SET LOCAL work_mem = '64MB'");
    await client.query("SET LOCAL maintenance_work_mem = '512MB'");
    // A deliberate bulk load: its index rebuilds may outlast the pool's statement timeout.
    await client.query('SET LOCAL statement_timeout = 0');
    // All locks first, in one order: writers of these tables (the ingest) wait until we commit,
    // and nothing can hold a lock we need later (the keys re-added at the end lock users and movies).
    await client.query('LOCK TABLE movies, users, ratings, rating_history IN SHARE ROW EXCLUSIVE MODE');
    const importId = (await client.query<{ id: number }>('INSERT INTO dataset_imports (dataset) VALUES ($1) RETURNING id', [name])).rows[0].id;

    const catalogue = await importMovies(client, movies);
    progress(0.02, 'ratings: checking');

    const known = await movieIdFlags(client);
    const plan = planRatings(dataset.ratings, known);
    const users = await importUsers(client, plan);
    progress(0.05, 'ratings');

    const replacedHistory = await dropEarlierImports(client, name, importId);

    const total = plan.latestCount + plan.historyCount;
    const step = (done: number, label: string): void => progress(Math.min(0.98, 0.05 + (0.93 * done) / Math.max(1, total)), label);
    // importLatest walks every valid row, writing the latest ones: scale its count to latestCount.
    const ratings = await importLatest(client, dataset.ratings, plan, (n) => step((n / Math.max(1, plan.historyCount)) * plan.latestCount, 'ratings'));
    const history = await importHistory(client, dataset.ratings, plan, importId, (n) => step(plan.latestCount + n, 'rating history'));

    await client.query('UPDATE dataset_imports SET finished_at = now(), movies = $2, ratings = $3 WHERE id = $1', [importId, movies.length, history.rows]);
    return {
      dataset: name,
      importId,
      ...catalogue,
      users,
      ratings: ratings.rows,
      history: history.rows,
      replacedHistory,
      skipped: { unknownMovie: plan.unknownMovie, invalid: plan.invalid },
      ratingsPath: ratings.path,
      historyPath: history.path,
      seconds: 0,
    } satisfies ImportResult;
  }).catch((err: unknown) => {
    throw withContext(`importing dataset ${name}`, err);
  });

  progress(0.98, 'analyze');
  // Fresh statistics, so that the first queries after a large import get sensible plans.
  await pool.query('ANALYZE movies, movie_genres, users, ratings, rating_history');
  progress(1, 'done');
  result.seconds = Math.round(performance.now() - t0) / 1000;
  return result;
}

/** Last definition of each id wins (upserting one id twice in a statement is an error). */
function dedupeMovies(movies: readonly Movie[]): Movie[] {
  const byId = new Map<number, Movie>();
  for (const m of movies) {
    if (!Number.isInteger(m.id) || m.id <= 0 || m.id > INT4_MAX) throw new RangeError(`movie id ${m.id} is not a positive 32-bit integer (title ${JSON.stringify(m.title)})`);
    byId.set(m.id, m);
  }
  return [...byId.values()];
}

async function importMovies(client: pg.PoolClient, movies: Movie[]): Promise<{ movies: number; genres: number; movieGenres: number }> {
  await client.query('CREATE TEMP TABLE _import_movies (id integer, title text, year smallint) ON COMMIT DROP');
  await copyIn(
    client,
    'COPY _import_movies (id, title, year) FROM STDIN',
    copyRows(movies.length, (w, i) => {
      const m = movies[i];
      w.int(m.id).tab().text(m.title).tab();
      (m.year === null ? w.null() : w.number(m.year)).newline();
    }),
  );
  const upserted = await client.query(
    `INSERT INTO movies AS m (id, title, year) SELECT id, title, year FROM _import_movies
     ON CONFLICT (id) DO UPDATE SET title = excluded.title, year = excluded.year, updated_at = now()
     WHERE (m.title, m.year) IS DISTINCT FROM (excluded.title, excluded.year)`,
  );

  const names = [...new Set(movies.flatMap((m) => m.genres))];
  await client.query('INSERT INTO genres (name) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (name) DO NOTHING', [names]);
  const { rows } = await client.query<{ id: number; name: string }>('SELECT id, name FROM genres WHERE name = ANY($1::text[])', [names]);
  const genreId = new Map(rows.map((r) => [r.name, r.id]));

  // The dataset's genres replace the imported movies' earlier ones.
  await client.query('DELETE FROM movie_genres WHERE movie_id IN (SELECT id FROM _import_movies)');
  const links: Array<[number, number]> = [];
  for (const m of movies) for (const g of new Set(m.genres)) links.push([m.id, genreId.get(g) as number]);
  const movieGenres = await copyIn(
    client,
    'COPY movie_genres (movie_id, genre_id) FROM STDIN',
    copyRows(links.length, (w, i) => w.int(links[i][0]).tab().int(links[i][1]).newline()),
  );
  return { movies: upserted.rowCount ?? 0, genres: names.length, movieGenres };
}

/** Catalogue membership by id, for every movie in the database (imported or already there). */
async function movieIdFlags(client: pg.PoolClient): Promise<(id: number) => boolean> {
  const { rows } = await client.query<{ id: number }>('SELECT id FROM movies');
  let max = 0;
  for (const r of rows) if (r.id > max) max = r.id;
  if (max > 50_000_000) {
    const set = new Set(rows.map((r) => r.id));
    return (id) => set.has(id);
  }
  const flags = new Uint8Array(max + 1);
  for (const r of rows) flags[r.id] = 1;
  return (id) => id > 0 && id <= max && flags[id] === 1;
}

/** Which rows go where: rows in user order, the latest row of each pair, users' first times. */
interface RatingPlan {
  /** Valid row indices grouped by user (users ascending). */
  order: Int32Array;
  /** 1 for the latest valid row of each (user, movie). */
  latest: Uint8Array;
  latestCount: number;
  historyCount: number;
  users: Int32Array;
  firstSeen: Float64Array;
  unknownMovie: number;
  invalid: number;
}

/**
 * O(rows + users + movies): a counting sort by user, then per user a stamp array over movies
 * finds each pair's latest row (later timestamp wins; on a tie, the later row).
 */
export function planRatings(t: RatingTable, isKnownMovie: (id: number) => boolean): RatingPlan {
  const n = t.length;
  const valid = new Uint8Array(n);
  let unknownMovie = 0;
  let invalid = 0;
  let maxUser = 0;
  let maxItem = 0;
  for (let r = 0; r < n; r++) {
    const u = t.user[r];
    const rating = t.rating[r];
    if (u <= 0 || !(rating >= 0.5 && rating <= 5 && Number.isInteger(rating * 2)) || !TimestampFormatter.valid(t.timestamp[r])) {
      invalid++;
    } else if (!isKnownMovie(t.item[r])) {
      unknownMovie++;
    } else {
      valid[r] = 1;
      if (u > maxUser) maxUser = u;
      if (t.item[r] > maxItem) maxItem = t.item[r];
    }
  }
  // User ids → dense 0..k-1 in ascending id order (ids may be sparse, e.g. hashed).
  let userIds: number[];
  let denseUser: (u: number) => number;
  if (maxUser <= 50_000_000) {
    const index = new Int32Array(maxUser + 1).fill(-1);
    for (let r = 0; r < n; r++) if (valid[r]) index[t.user[r]] = 0;
    userIds = [];
    for (let u = 1; u <= maxUser; u++) if (index[u] === 0) index[u] = userIds.push(u) - 1;
    denseUser = (u) => index[u];
  } else {
    const set = new Set<number>();
    for (let r = 0; r < n; r++) if (valid[r]) set.add(t.user[r]);
    userIds = [...set].sort((a, b) => a - b);
    const index = new Map(userIds.map((u, i) => [u, i]));
    denseUser = (u) => index.get(u) as number;
  }

  const k = userIds.length;
  const start = new Int32Array(k + 1);
  let count = 0;
  for (let r = 0; r < n; r++) {
    if (valid[r]) {
      start[denseUser(t.user[r]) + 1]++;
      count++;
    }
  }
  for (let i = 0; i < k; i++) start[i + 1] += start[i];
  const order = new Int32Array(count);
  const fill = start.slice(0, k);
  for (let r = 0; r < n; r++) if (valid[r]) order[fill[denseUser(t.user[r])]++] = r;

  const latest = new Uint8Array(n);
  const firstSeen = new Float64Array(k);
  const stamp = new Int32Array(maxItem + 1).fill(-1);
  const best = new Int32Array(maxItem + 1);
  let latestCount = 0;
  for (let u = 0; u < k; u++) {
    let first = Infinity;
    for (let j = start[u]; j < start[u + 1]; j++) {
      const r = order[j];
      const item = t.item[r];
      const ts = t.timestamp[r];
      if (ts < first) first = ts;
      if (stamp[item] !== u) {
        stamp[item] = u;
        best[item] = r;
      } else if (ts >= t.timestamp[best[item]]) {
        best[item] = r;
      }
    }
    firstSeen[u] = first;
    for (let j = start[u]; j < start[u + 1]; j++) {
      const item = t.item[order[j]];
      if (stamp[item] === u) {
        latest[best[item]] = 1;
        stamp[item] = -2 - u; // count each pair once
        latestCount++;
      }
    }
  }
  return { order, latest, latestCount, historyCount: count, users: Int32Array.from(userIds), firstSeen, unknownMovie, invalid };
}

async function importUsers(client: pg.PoolClient, plan: RatingPlan): Promise<number> {
  await client.query('CREATE TEMP TABLE _import_users (id integer, first_seen timestamptz) ON COMMIT DROP');
  await copyIn(
    client,
    'COPY _import_users (id, first_seen) FROM STDIN',
    copyRows(plan.users.length, (w, i) => w.int(plan.users[i]).tab().timestamp(plan.firstSeen[i]).newline()),
  );
  const res = await client.query(
    `INSERT INTO users AS u (id, first_seen) SELECT id, first_seen FROM _import_users ORDER BY id
     ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen WHERE excluded.first_seen < u.first_seen`,
  );
  return res.rowCount ?? 0;
}

/** Removes history of earlier imports under the same name; returns the rows removed. */
async function dropEarlierImports(client: pg.PoolClient, name: string, importId: number): Promise<number> {
  const { rows } = await client.query<{ id: number }>('SELECT id FROM dataset_imports WHERE dataset = $1 AND id <> $2', [name, importId]);
  if (rows.length === 0) return 0;
  const ids = rows.map((r) => r.id);
  const others = await client.query('SELECT 1 FROM rating_history WHERE import_id IS NULL OR NOT (import_id = ANY($1::int[])) LIMIT 1', [ids]);
  let removed: number;
  if (others.rowCount === 0) {
    // Only that dataset's rows: TRUNCATE is instant where DELETE would rewrite millions of rows.
    removed = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM rating_history')).rows[0].n);
    await client.query('TRUNCATE rating_history');
  } else {
    removed = (await client.query('DELETE FROM rating_history WHERE import_id = ANY($1::int[])', [ids])).rowCount ?? 0;
  }
  await client.query('DELETE FROM dataset_imports WHERE id = ANY($1::int[])', [ids]);
  return removed;
}

async function isEmpty(client: pg.PoolClient, table: 'ratings' | 'rating_history'): Promise<boolean> {
  const { rowCount } = await client.query(`SELECT 1 FROM ${table} LIMIT 1`);
  return rowCount === 0;
}

async function importLatest(
  client: pg.PoolClient,
  t: RatingTable,
  plan: RatingPlan,
  onRows: (n: number) => void,
): Promise<{ rows: number; path: 'copy' | 'merge' }> {
  const chunks = copyRows(
    plan.order.length,
    (w, j) => {
      const r = plan.order[j];
      if (plan.latest[r]) w.int(t.user[r]).tab().int(t.item[r]).tab().number(t.rating[r]).tab().timestamp(t.timestamp[r]).newline();
    },
    onRows,
  );
  if (await isEmpty(client, 'ratings')) {
    // Truncated in this transaction: with wal_level=minimal the load skips the WAL, and FREEZE
    // writes the rows already frozen and all-visible (no hint-bit rewrite of every page on the
    // first read, no anti-wraparound vacuum of 20M rows later).
    await client.query('TRUNCATE ratings');
    const sql = 'COPY ratings (user_id, movie_id, rating, rated_at) FROM STDIN WITH (FREEZE)';
    const rows = await withDeferredIndexes(client, 'ratings', () => copyIn(client, sql, chunks));
    return { rows, path: 'copy' };
  }
  await client.query('CREATE TEMP TABLE _import_ratings (user_id integer, movie_id integer, rating real, rated_at timestamptz) ON COMMIT DROP');
  await copyIn(client, 'COPY _import_ratings (user_id, movie_id, rating, rated_at) FROM STDIN', chunks);
  const defer = await largeRelativeTo(client, 'ratings', plan.latestCount);
  // As in applyEventBatch the newer rating wins. At the same instant an imported rating never
  // beats an event's, replaces an imported one, and an unchanged row is not rewritten.
  const merge = () =>
    client.query(
      `INSERT INTO ratings AS r (user_id, movie_id, rating, rated_at)
       SELECT user_id, movie_id, rating, rated_at FROM _import_ratings ORDER BY user_id, movie_id
       ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at, event_id = NULL
       WHERE excluded.rated_at > r.rated_at
          OR (excluded.rated_at = r.rated_at AND r.event_id IS NULL AND excluded.rating <> r.rating)`,
    );
  const res = defer ? await withDeferredIndexes(client, 'ratings', merge) : await merge();
  return { rows: res.rowCount ?? 0, path: 'merge' };
}

async function importHistory(
  client: pg.PoolClient,
  t: RatingTable,
  plan: RatingPlan,
  importId: number,
  onRows: (n: number) => void,
): Promise<{ rows: number; path: 'copy' | 'append' }> {
  const chunks = copyRows(
    plan.order.length,
    (w, j) => {
      const r = plan.order[j];
      w.int(importId).tab().int(t.user[r]).tab().int(t.item[r]).tab().number(t.rating[r]).tab().timestamp(t.timestamp[r]).newline();
    },
    onRows,
  );
  const sql = 'COPY rating_history (import_id, user_id, movie_id, rating, rated_at) FROM STDIN';
  if (await isEmpty(client, 'rating_history')) {
    await client.query('TRUNCATE rating_history'); // as for ratings: no WAL, rows frozen
    return { rows: await withDeferredIndexes(client, 'rating_history', () => copyIn(client, `${sql} WITH (FREEZE)`, chunks)), path: 'copy' };
  }
  const append = () => copyIn(client, sql, chunks);
  const rows = (await largeRelativeTo(client, 'rating_history', plan.historyCount)) ? await withDeferredIndexes(client, 'rating_history', append) : await append();
  return { rows, path: 'append' };
}

/**
 * Whether `incoming` rows are enough, next to what the table holds (planner estimate), for
 * rebuilding its indexes and re-validating its keys afterwards to beat maintaining them per row.
 */
async function largeRelativeTo(client: pg.PoolClient, table: 'ratings' | 'rating_history', incoming: number): Promise<boolean> {
  if (incoming < 200_000) return false;
  const { rows } = await client.query<{ n: number }>('SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = $1::regclass', [table]);
  return incoming >= (rows[0]?.n ?? 0) / 4;
}

/**
 * Loading an empty table, or a lot into a small one: drops its foreign keys and secondary
 * indexes (not the primary key), runs fn, then recreates them from their catalogue definitions.
 * A bulk index build and one set-based foreign-key validation are far cheaper than per-row index
 * inserts and per-row foreign-key triggers (two lookups per rating). All inside the caller's
 * transaction, so a failure restores everything; later migrations' indexes and keys are handled
 * without changes here.
 */
async function withDeferredIndexes<T>(client: pg.PoolClient, table: 'ratings' | 'rating_history', fn: () => Promise<T>): Promise<T> {
  const { rows: fks } = await client.query<{ name: string; def: string }>(
    "SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname",
    [table],
  );
  const { rows: indexes } = await client.query<{ name: string; def: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index i
     WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
     ORDER BY 1`,
    [table],
  );
  for (const fk of fks) await client.query(`ALTER TABLE ${table} DROP CONSTRAINT ${client.escapeIdentifier(fk.name)}`);
  for (const ix of indexes) await client.query(`DROP INDEX ${ix.name}`);
  const result = await fn();
  for (const ix of indexes) await client.query(ix.def);
  for (const fk of fks) {
    try {
      await client.query(`ALTER TABLE ${table} ADD CONSTRAINT ${client.escapeIdentifier(fk.name)} ${fk.def}`);
    } catch (err) {
      throw withContext(`restoring ${table}.${fk.name} after the bulk load`, err);
    }
  }
  return result;
}

/** COPY input for rows 0..count-1 (write appends a row, or nothing), in ~1 MB Buffers. */
function* copyRows(count: number, write: (w: CopyRowWriter, i: number) => void, onRows?: (done: number) => void): Generator<Buffer> {
  const w = new CopyRowWriter(CHUNK_BYTES + 4096);
  for (let i = 0; i < count; i++) {
    write(w, i);
    if (w.length >= CHUNK_BYTES) {
      yield w.take();
      onRows?.(i + 1);
    }
  }
  if (w.length > 0) yield w.take();
  onRows?.(count);
}
