/**
 * A small real bundle for format tests: every component (ALS, implicit ALS, content, popularity,
 * EASE) and the hybrid policy, trained on 30 users × 40 movies.
 */
import { createBundle } from '../src/format/bundle.js';
import { encodeModelFile, type ModelDocument } from '../src/format/model-file.js';
import { trainAls } from '../src/models/als.js';
import { trainContent } from '../src/models/content.js';
import { trainEase } from '../src/models/ease.js';
import { trainIals } from '../src/models/ials.js';
import { trainPopularity } from '../src/models/popularity.js';
import { Random } from '../src/random.js';
import { buildTrainingData, type TrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder, type Movie } from '../src/types.js';

const GENRES = ['Comedy', 'Drama', 'Horror', 'Action'];

export function smallTrainingData(): TrainingData {
  const movies: Movie[] = Array.from({ length: 40 }, (_, j) => ({ id: 101 + j, title: `movie ${j}`, year: 1990 + (j % 10), genres: [GENRES[j % 4]] }));
  const rng = new Random(11);
  const b = new RatingTableBuilder();
  for (let u = 1; u <= 30; u++) {
    const seen = new Set<number>();
    while (seen.size < 3 + (u % 7)) seen.add(101 + Math.floor(40 * rng.next() ** 2));
    let t = 1_000_000 + u * 1000;
    for (const m of seen) b.push(u, m, 1 + rng.int(5), t++);
  }
  return buildTrainingData(b.build(), movies);
}

export async function smallBundle(): Promise<{ data: TrainingData; doc: ModelDocument; bytes: Buffer }> {
  const data = smallTrainingData();
  const models = {
    als: await trainAls(data, { factors: 4, iterations: 2, threads: 1, seed: 1 }),
    ials: await trainIals(data, { factors: 4, iterations: 2, threads: 1, seed: 1 }),
    content: trainContent(data),
    popularity: trainPopularity(data),
    ease: trainEase(data),
  };
  // CF from 5 ratings (the default is 20): the fixture's users have a handful of ratings each.
  const doc = createBundle(data, models, { hybrid: { minHistory: 5 }, createdAt: new Date('2024-01-01T00:00:00Z'), info: { dataset: 'fixture' } });
  return { data, doc, bytes: encodeModelFile(doc) };
}

/** The same document with some sections replaced (copies: the original is untouched). */
export function withSections(doc: ModelDocument, replace: Record<string, ModelDocument['sections'][string]>): ModelDocument {
  return { meta: JSON.parse(JSON.stringify(doc.meta)) as ModelDocument['meta'], sections: { ...doc.sections, ...replace } };
}
