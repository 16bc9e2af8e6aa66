/**
 * Turns a dataset into a deterministic event stream: every rating becomes a rating event, preceded
 * (with probability `watchFraction`) by the watch event that led to it, and interleaved with
 * recommendation requests (`requestFraction` of rating events). Ratings are replayed in timestamp
 * order, so per-user histories arrive as they happened.
 */
import { Random, type Dataset } from '@netflicks/recsys';
import type { NetflicksEvent } from '@netflicks/contracts';
import { seededUuid } from './uuid.js';

export interface StreamOptions {
  seed: number;
  /** Share of ratings preceded by a watch event. Default 0.5. */
  watchFraction?: number;
  /** Recommendation requests per rating event. Default 0.1. */
  requestFraction?: number;
  /** Items per simulated recommendation request. Default 10. */
  requestItems?: number;
  /**
   * 'original': occurredAt is the rating's own timestamp (replay); 'now': the wall clock when the
   * event is generated (a live stream). Default 'now'.
   */
  time?: 'original' | 'now';
  /** Start at this rating (in time order); used to resume or shard. Default 0. */
  offset?: number;
}

export interface StreamItem {
  event: NetflicksEvent;
  /** The source rating's timestamp (epoch seconds), for pacing a replay. */
  sourceTime: number;
}

/** Rating rows of `dataset` in timestamp order (stable). */
export function timeOrder(dataset: Dataset): Int32Array {
  const t = dataset.ratings.timestamp;
  const order = Int32Array.from({ length: dataset.ratings.length }, (_, i) => i);
  return order.sort((a, b) => t[a] - t[b] || a - b);
}

export function* eventStream(dataset: Dataset, opts: StreamOptions): Generator<StreamItem> {
  const rng = new Random(opts.seed);
  const watchFraction = opts.watchFraction ?? 0.5;
  const requestFraction = opts.requestFraction ?? 0.1;
  const requestItems = opts.requestItems ?? 10;
  const live = (opts.time ?? 'now') === 'now';
  const movieIds = Int32Array.from(dataset.movies, (m) => m.id);
  const { user, item, rating, timestamp } = dataset.ratings;
  const order = timeOrder(dataset);
  let ratingsSeen = 0;
  for (let j = opts.offset ?? 0; j < order.length; j++) {
    const r = order[j];
    const sourceTime = timestamp[r];
    const at = (offsetSeconds: number) =>
      new Date(live ? Date.now() : (sourceTime + offsetSeconds) * 1000).toISOString();
    const userId = user[r];
    const movieId = item[r];
    if (rng.next() < watchFraction) {
      // Most ratings follow a (nearly) complete viewing; a minority were abandoned early.
      const runtime = 5400 + rng.int(3600);
      const completed = rng.next() < 0.85;
      const watchedSeconds = completed ? runtime : rng.int(runtime);
      yield {
        sourceTime,
        event: { eventId: seededUuid(rng), type: 'watch', schemaVersion: 1, userId, movieId, watchedSeconds, completed, occurredAt: at(-60) },
      };
    }
    yield {
      sourceTime,
      event: { eventId: seededUuid(rng), type: 'rating', schemaVersion: 1, userId, movieId, rating: rating[r], occurredAt: at(0) },
    };
    // Requests arrive at requestFraction per rating, deterministically spread (no bursts).
    const due = Math.floor((ratingsSeen + 1) * requestFraction + 1e-9) - Math.floor(ratingsSeen * requestFraction + 1e-9);
    ratingsSeen++;
    for (let q = 0; q < due && movieIds.length > 0; q++) {
      const items = new Array<number>(Math.min(requestItems, movieIds.length));
      for (let i = 0; i < items.length; i++) items[i] = movieIds[rng.int(movieIds.length)];
      yield {
        sourceTime,
        event: {
          eventId: seededUuid(rng),
          type: 'recommendation',
          schemaVersion: 1,
          userId,
          items,
          strategy: 'popularity',
          modelVersion: 'simulator',
          requestId: `sim-${seededUuid(rng).slice(0, 8)}`,
          occurredAt: at(0),
        },
      };
    }
  }
}
