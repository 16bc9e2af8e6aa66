/**
 * Genre standardisation onto MovieLens' genre vocabulary.
 *
 * Policy: a known spelling or synonym maps to its canonical name; the "no genre" markers
 * ("(no genres listed)", "unknown", empty) map to nothing; any other genre is KEPT, title-cased,
 * so that nothing a source provides is silently lost (a content model can still use it, and
 * `genreOneHot` simply ignores genres outside its vocabulary).
 */

/** MovieLens' genres (ml-latest set, which adds IMAX to ML-100K's), in MovieLens' order. */
export const CANONICAL_GENRES = [
  'Action',
  'Adventure',
  'Animation',
  'Children',
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'IMAX',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
] as const;

export type CanonicalGenre = (typeof CANONICAL_GENRES)[number];

const CANONICAL_INDEX = new Map<string, number>(CANONICAL_GENRES.map((g, i) => [g, i]));

/** Lower-case letters and digits only: makes "Sci-Fi", "sci fi", "SciFi", "SCI_FI" one key. */
function genreKey(raw: string): string {
  return raw
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

const NO_GENRE_KEYS = new Set(['', 'nogenreslisted', 'nogenre', 'nogenres', 'unknown', 'none', 'na', 'null']);

const SYNONYMS: Record<string, CanonicalGenre> = {};
function alias(canonical: CanonicalGenre, ...spellings: string[]): void {
  SYNONYMS[genreKey(canonical)] = canonical;
  for (const s of spellings) SYNONYMS[genreKey(s)] = canonical;
}
alias('Action', 'actions');
alias('Adventure', 'adventures');
alias('Animation', 'animated', 'animations', 'cartoon', 'cartoons');
// "Family" is how TMDB/IMDb name MovieLens' "Children's" films.
alias('Children', "Children's", 'childrens', 'kids', "kid's", 'family', 'kids & family', 'kids and family');
alias('Comedy', 'comedies');
alias('Crime', 'crimes');
alias('Documentary', 'documentaries', 'doc', 'docs');
alias('Drama', 'dramas');
alias('Fantasy', 'fantasies');
alias('Film-Noir', 'Film Noir', 'noir');
alias('Horror', 'horrors');
alias('IMAX');
alias('Musical', 'musicals');
alias('Mystery', 'mysteries');
alias('Romance', 'romances', 'romantic');
alias('Sci-Fi', 'Science Fiction', 'sci fi', 'SciFi', 'SF', 'sci-fi & fantasy');
alias('Thriller', 'thrillers');
alias('War', 'wars');
alias('Western', 'westerns');

/** Title-cases an unknown genre consistently ("martial ARTS" → "Martial Arts"), whatever its source spelling. */
function titleCase(raw: string): string {
  return raw
    .trim()
    .replace(/\s+/g, ' ')
    .toLowerCase()
    .replace(/(^|[\s\-/&(])(\p{L})/gu, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
}

/**
 * Canonical name of one genre, a title-cased name for an unknown genre, or null for the
 * "no genres" markers.
 */
export function standardizeGenre(raw: string): string | null {
  const key = genreKey(raw);
  if (NO_GENRE_KEYS.has(key)) return null;
  return SYNONYMS[key] ?? titleCase(raw);
}

/**
 * Standardises a genre list (a MovieLens "A|B|C" string or an array): deduplicated, canonical
 * genres first in canonical order, then unknown ones in order of appearance.
 */
export function standardizeGenres(raw: string | readonly string[], separator = '|'): string[] {
  const parts = typeof raw === 'string' ? raw.split(separator) : raw;
  const canonical: number[] = [];
  const extra: string[] = [];
  for (const part of parts) {
    const g = standardizeGenre(part);
    if (g === null) continue;
    const idx = CANONICAL_INDEX.get(g);
    if (idx !== undefined) {
      if (!canonical.includes(idx)) canonical.push(idx);
    } else if (!extra.includes(g)) {
      extra.push(g);
    }
  }
  canonical.sort((a, b) => a - b);
  return [...canonical.map((i) => CANONICAL_GENRES[i]), ...extra];
}

/** Index of a canonical genre in CANONICAL_GENRES, or -1. */
export function genreIndex(genre: string): number {
  return CANONICAL_INDEX.get(genre) ?? -1;
}

function vocabularyIndex(vocabulary: readonly string[]): Map<string, number> {
  return vocabulary === CANONICAL_GENRES ? CANONICAL_INDEX : new Map(vocabulary.map((g, i) => [g, i]));
}

function fillOneHot(genres: readonly string[], index: Map<string, number>, out: Float32Array, offset: number): void {
  for (const g of genres) {
    const i = index.get(g);
    if (i !== undefined) out[offset + i] = 1;
  }
}

/**
 * One-hot (multi-hot) vector of `genres` over `vocabulary` (default: the canonical list).
 * Genres outside the vocabulary are ignored; pass a larger vocabulary to keep them.
 */
export function genreOneHot(genres: readonly string[], vocabulary: readonly string[] = CANONICAL_GENRES): Float32Array {
  const out = new Float32Array(vocabulary.length);
  fillOneHot(genres, vocabularyIndex(vocabulary), out, 0);
  return out;
}

/** Row-major movies × vocabulary matrix of one-hot genre rows (row m = movies[m]). */
export function genreMatrix(
  movies: readonly { genres: readonly string[] }[],
  vocabulary: readonly string[] = CANONICAL_GENRES,
): Float32Array {
  const width = vocabulary.length;
  const index = vocabularyIndex(vocabulary);
  const out = new Float32Array(movies.length * width);
  for (let m = 0; m < movies.length; m++) fillOneHot(movies[m].genres, index, out, m * width);
  return out;
}
