import { generateSynthetic, type SyntheticWorld } from '../src/synthetic.js';
import { pearson } from './stats.js';


describe('generateSynthetic', () => {
  let world: SyntheticWorld;
  beforeAll(() => {
    world = generateSynthetic(); // MovieLens-100K-sized default
  });

  it('has the MovieLens-100K shape by default', () => {
    const { dataset } = world;
    const r = dataset.ratings;
    expect(dataset.name).toBe('synthetic');
    expect(r.length).toBe(100_000);
    expect(dataset.movies).toHaveLength(1682);
    const perUser = new Int32Array(944);
    let outOfRange = 0;
    for (let i = 0; i < r.length; i++) {
      if (!(r.user[i] >= 1 && r.user[i] <= 943 && r.item[i] >= 1 && r.item[i] <= 1682)) outOfRange++;
      else perUser[r.user[i]]++;
    }
    expect(outOfRange).toBe(0);
    const counts = [...perUser.subarray(1)].sort((a, b) => a - b);
    expect(counts[0]).toBeGreaterThanOrEqual(20); // every user has >= 20 ratings
    expect(counts[counts.length - 1]).toBeGreaterThan(4 * counts[counts.length >> 1]); // heavy tail
  });

  it('never repeats a (user, movie) pair', () => {
    const r = world.dataset.ratings;
    const seen = new Set<number>();
    for (let i = 0; i < r.length; i++) seen.add(r.user[i] * 2000 + r.item[i]);
    expect(seen.size).toBe(r.length);
  });

  it('rates like MovieLens: half stars in 0.5..5, mean ≈ 3.5, mostly 2.5–4.5', () => {
    const r = world.dataset.ratings;
    let sum = 0;
    let middle = 0;
    let invalid = 0;
    for (let i = 0; i < r.length; i++) {
      const v = r.rating[i];
      if (!(v >= 0.5 && v <= 5 && Number.isInteger(v * 2))) invalid++;
      sum += v;
      if (v >= 2.5 && v <= 4.5) middle++;
    }
    expect(invalid).toBe(0);
    expect(sum / r.length).toBeGreaterThan(3.3);
    expect(sum / r.length).toBeLessThan(3.7);
    expect(middle / r.length).toBeGreaterThan(0.6);
  });

  it('makes popularity heavy-tailed', () => {
    const r = world.dataset.ratings;
    const perMovie = new Int32Array(1683);
    for (let i = 0; i < r.length; i++) perMovie[r.item[i]]++;
    const c = [...perMovie.subarray(1)].sort((a, b) => b - a);
    const top10pct = c.slice(0, 168).reduce((a, b) => a + b, 0);
    expect(top10pct / r.length).toBeGreaterThan(0.3);
    expect(c[0]).toBeGreaterThan(10 * c[841]);
  });

  it('spreads timestamps over the range, each user within an active window', () => {
    const r = world.dataset.ratings;
    const start = Date.UTC(1997, 8, 20) / 1000;
    const end = Date.UTC(1998, 3, 23) / 1000;
    const first = new Float64Array(944).fill(Infinity);
    const last = new Float64Array(944).fill(-Infinity);
    let outside = 0;
    for (let i = 0; i < r.length; i++) {
      const t = r.timestamp[i];
      if (!(t >= start && t <= end && Number.isInteger(t))) outside++;
      first[r.user[i]] = Math.min(first[r.user[i]], t);
      last[r.user[i]] = Math.max(last[r.user[i]], t);
    }
    expect(outside).toBe(0);
    const spans = [...first.subarray(1)].map((f, u) => (last[u + 1] - f) / (end - start)).sort((a, b) => a - b);
    expect(spans[spans.length >> 1]).toBeLessThan(0.5); // the typical user is active for part of the range
  });

  it('plants tastes: ratings correlate with u·v', () => {
    const { dataset, truth } = world;
    const r = dataset.ratings;
    const k = truth.factors;
    const affinity = new Float64Array(r.length);
    for (let i = 0; i < r.length; i++) {
      let dot = 0;
      for (let f = 0; f < k; f++) dot += truth.userFactors[(r.user[i] - 1) * k + f] * truth.movieFactors[(r.item[i] - 1) * k + f];
      affinity[i] = dot;
    }
    expect(pearson(affinity, r.rating)).toBeGreaterThan(0.4);
  });

  it('ties genres to tastes: users who lean towards a genre rate its movies higher', () => {
    const { dataset, truth } = world;
    const r = dataset.ratings;
    const k = truth.factors;
    let agree = 0;
    for (let g = 0; g < truth.genres.length; g++) {
      const genre = truth.genres[g];
      const inGenre = new Uint8Array(1683);
      for (const m of dataset.movies) if (m.genres.includes(genre)) inGenre[m.id] = 1;
      const lean: number[] = [];
      const ratings: number[] = [];
      for (let i = 0; i < r.length; i++) {
        if (inGenre[r.item[i]] === 0) continue;
        let dot = 0;
        for (let f = 0; f < k; f++) dot += truth.userFactors[(r.user[i] - 1) * k + f] * truth.genreDirections[g * k + f];
        lean.push(dot);
        ratings.push(r.rating[i]);
      }
      if (ratings.length > 200 && pearson(lean, ratings) > 0.05) agree++;
    }
    expect(agree).toBeGreaterThanOrEqual(truth.genres.length - 3);
  });

  it('gives every movie 1–3 genres, common genres commonly, and titled years', () => {
    const counts = new Map<string, number>();
    const bad: string[] = [];
    for (const m of world.dataset.movies) {
      if (m.genres.length < 1 || m.genres.length > 3) bad.push(`${m.id}: ${m.genres.length} genres`);
      if (!/^[A-Z][A-Za-z' ]+$/.test(m.title) || /Synthetic|\d/.test(m.title)) bad.push(`${m.id}: title ${m.title}`);
      if (m.year === null || m.year < 1920 || m.year > 1998) bad.push(`${m.id}: year ${m.year}`);
      for (const g of m.genres) counts.set(g, (counts.get(g) ?? 0) + 1);
    }
    expect(bad).toEqual([]);
    expect(counts.get('Drama')!).toBeGreaterThan(counts.get('Western') ?? 0);
  });

  it('titles movies plausibly: unique, and worded after their main genre', () => {
    const titles = world.dataset.movies.map((m) => m.title);
    expect(new Set(titles).size).toBe(titles.length);
    const wordsOf = (genre: string): Set<string> =>
      new Set(world.dataset.movies.filter((m) => m.genres.length === 1 && m.genres[0] === genre).flatMap((m) => m.title.split(' ')));
    const [comedy, horror] = [wordsOf('Comedy'), wordsOf('Horror')];
    expect(comedy.size).toBeGreaterThan(20);
    expect(horror.size).toBeGreaterThan(20);
    // Only the patterns' glue words, sequel numbers and given names ("Ada and the …") may appear in both.
    const glue = /^(The|the|of|and|at|Return|[IVX]+|[A-Z][a-z]+'s)$/;
    const isName = (w: string): boolean => titles.some((t) => t.startsWith(`${w} and the `));
    expect([...comedy].filter((w) => horror.has(w) && !glue.test(w) && !isName(w))).toEqual([]);
    expect(titles.slice(0, 3)).toEqual(generateSynthetic({ seed: 42 }).dataset.movies.slice(0, 3).map((m) => m.title));
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const opts = { users: 120, movies: 300, ratings: 5000 };
    const a = generateSynthetic({ ...opts, seed: 7 }).dataset;
    const b = generateSynthetic({ ...opts, seed: 7 }).dataset;
    const c = generateSynthetic({ ...opts, seed: 8 }).dataset;
    expect(b.ratings).toEqual(a.ratings);
    expect(b.movies).toEqual(a.movies);
    expect(c.ratings.item).not.toEqual(a.ratings.item);
  });

  it('scales options: whole stars, exact totals, dense worlds', () => {
    const whole = generateSynthetic({ users: 30, movies: 60, ratings: 700, halfStars: false, seed: 3 }).dataset.ratings;
    expect(whole.length).toBe(700);
    expect([...whole.rating].every((v) => Number.isInteger(v) && v >= 1 && v <= 5)).toBe(true);
    // asking for more than the per-user cap allows is clamped, not an endless loop
    const dense = generateSynthetic({ users: 10, movies: 30, ratings: 10_000, maxUserFraction: 1, seed: 4 }).dataset.ratings;
    expect(dense.length).toBe(300);
  });

  it('rejects nonsense options', () => {
    expect(() => generateSynthetic({ users: 0 })).toThrow(RangeError);
    expect(() => generateSynthetic({ ratings: -1 })).toThrow(RangeError);
    expect(() => generateSynthetic({ startTime: 10, endTime: 5 })).toThrow(RangeError);
  });
});
