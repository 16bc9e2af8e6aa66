/** A movie as the recommender sees it; genres are already standardised. */
export interface Movie {
  id: number;
  title: string;
  year: number | null;
  genres: string[];
  tags?: string[];
}

/**
 * Ratings in columnar form with external ids (struct-of-arrays keeps 20M rows at ~20 bytes each).
 * `timestamp` is seconds since the epoch.
 */
export interface RatingTable {
  length: number;
  user: Int32Array;
  item: Int32Array;
  rating: Float32Array;
  timestamp: Float64Array;
}

/** One train/test pair of a split. */
export interface Fold {
  name: string;
  train: RatingTable;
  test: RatingTable;
}

/** A loaded dataset: catalogue plus ratings, and predefined folds when the format ships them. */
export interface Dataset {
  name: string;
  movies: Movie[];
  ratings: RatingTable;
  /** Official folds (MovieLens-100K u1..u5) when present. */
  folds?: Fold[];
}

/** Called by long-running work; fraction in [0, 1]. */
export type ProgressFn = (fraction: number, message?: string) => void;

export interface TrainOptions {
  /** Worker threads to use; 1 means run on the calling thread. */
  threads: number;
  seed: number;
  onProgress?: ProgressFn;
}

export function emptyRatingTable(capacity = 0): RatingTable {
  return {
    length: 0,
    user: new Int32Array(capacity),
    item: new Int32Array(capacity),
    rating: new Float32Array(capacity),
    timestamp: new Float64Array(capacity),
  };
}

/** Copies the selected rows (by index) into a new table. */
export function selectRows(table: RatingTable, rows: ArrayLike<number>): RatingTable {
  const out = emptyRatingTable(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out.user[i] = table.user[r];
    out.item[i] = table.item[r];
    out.rating[i] = table.rating[r];
    out.timestamp[i] = table.timestamp[r];
  }
  out.length = rows.length;
  return out;
}

/** Growable builder used by loaders that do not know the row count in advance. */
export class RatingTableBuilder {
  private table: RatingTable;

  constructor(initialCapacity = 1024) {
    this.table = emptyRatingTable(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.table.length;
  }

  push(user: number, item: number, rating: number, timestamp: number): void {
    const t = this.table;
    if (t.length === t.user.length) this.grow();
    const i = this.table.length;
    this.table.user[i] = user;
    this.table.item[i] = item;
    this.table.rating[i] = rating;
    this.table.timestamp[i] = timestamp;
    this.table.length = i + 1;
  }

  /** Returns a table trimmed to its length (views share no memory with later pushes). */
  build(): RatingTable {
    const t = this.table;
    return {
      length: t.length,
      user: t.user.slice(0, t.length),
      item: t.item.slice(0, t.length),
      rating: t.rating.slice(0, t.length),
      timestamp: t.timestamp.slice(0, t.length),
    };
  }

  private grow(): void {
    const t = this.table;
    const cap = t.user.length * 2;
    const next = emptyRatingTable(cap);
    next.user.set(t.user);
    next.item.set(t.item);
    next.rating.set(t.rating);
    next.timestamp.set(t.timestamp);
    next.length = t.length;
    this.table = next;
  }
}
