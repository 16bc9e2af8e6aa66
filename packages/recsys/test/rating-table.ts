import { RatingTableBuilder, type RatingTable } from '../src/types.js';

/** A RatingTable from [user, item, rating, timestamp] rows, in order. */
export function table(rows: [number, number, number, number][]): RatingTable {
  const b = new RatingTableBuilder(rows.length);
  for (const [u, i, r, t] of rows) b.push(u, i, r, t);
  return b.build();
}
