import {
  CANONICAL_GENRES,
  genreIndex,
  genreMatrix,
  genreOneHot,
  standardizeGenre,
  standardizeGenres,
} from '../src/genres.js';

describe('standardizeGenre', () => {
  const cases: [string, string | null][] = [
    // canonical names are fixed points
    ...CANONICAL_GENRES.map((g): [string, string] => [g, g]),
    // case, spacing, punctuation
    ['sci-fi', 'Sci-Fi'],
    ['SCI-FI', 'Sci-Fi'],
    ['Sci Fi', 'Sci-Fi'],
    ['sci fi', 'Sci-Fi'],
    ['SciFi', 'Sci-Fi'],
    ['Sci_Fi', 'Sci-Fi'],
    ['Science Fiction', 'Sci-Fi'],
    ['science-fiction', 'Sci-Fi'],
    ['  drama ', 'Drama'],
    ['COMEDY', 'Comedy'],
    // synonyms
    ["Children's", 'Children'],
    ['Childrens', 'Children'],
    ['children', 'Children'],
    ['Kids', 'Children'],
    ['Family', 'Children'],
    ['Film Noir', 'Film-Noir'],
    ['film-noir', 'Film-Noir'],
    ['FilmNoir', 'Film-Noir'],
    ['Noir', 'Film-Noir'],
    ['imax', 'IMAX'],
    ['Documentaries', 'Documentary'],
    ['Romantic', 'Romance'],
    ['Animated', 'Animation'],
    ['Westerns', 'Western'],
    // "no genre" markers
    ['(no genres listed)', null],
    ['(No Genres Listed)', null],
    ['unknown', null],
    ['', null],
    ['   ', null],
    // unknown genres are kept, title-cased consistently
    ['martial arts', 'Martial Arts'],
    ['MARTIAL ARTS', 'Martial Arts'],
    ['  martial   arts ', 'Martial Arts'],
    ['TV Movie', 'Tv Movie'],
    ['neo-noir', 'Neo-Noir'],
  ];
  it.each(cases)('%j → %j', (raw, expected) => {
    expect(standardizeGenre(raw)).toBe(expected);
  });
});

describe('standardizeGenres', () => {
  const cases: [string | string[], string[]][] = [
    ['Adventure|Animation|Children|Comedy|Fantasy', ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy']],
    ['(no genres listed)', []],
    ['', []],
    // canonical order, duplicates merged across spellings
    ['Sci-Fi|Action|science fiction|ACTION', ['Action', 'Sci-Fi']],
    // unknown genres after canonical ones, in input order, deduplicated
    ['Martial Arts|Drama|martial arts|Anime', ['Drama', 'Martial Arts', 'Anime']],
    [["Children's", 'Comedy', 'unknown'], ['Children', 'Comedy']],
  ];
  it.each(cases)('%j → %j', (raw, expected) => {
    expect(standardizeGenres(raw)).toEqual(expected);
  });

  it('accepts another separator', () => {
    expect(standardizeGenres('Drama, Comedy', ',')).toEqual(['Comedy', 'Drama']);
  });
});

describe('one-hot vectors', () => {
  it('has one slot per canonical genre, in canonical order', () => {
    const v = genreOneHot(['Action', 'Western', 'Martial Arts']);
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.length).toBe(CANONICAL_GENRES.length);
    expect([...v].reduce((a, b) => a + b, 0)).toBe(2);
    expect(v[genreIndex('Action')]).toBe(1);
    expect(v[genreIndex('Western')]).toBe(1);
    expect(genreIndex('Martial Arts')).toBe(-1);
  });

  it('supports a custom vocabulary', () => {
    expect([...genreOneHot(['Anime', 'Drama'], ['Drama', 'Anime', 'Comedy'])]).toEqual([1, 1, 0]);
  });

  it('builds a row-major movies × genres matrix', () => {
    const m = genreMatrix([{ genres: ['Drama'] }, { genres: [] }, { genres: ['Comedy', 'Drama'] }]);
    const w = CANONICAL_GENRES.length;
    expect(m.length).toBe(3 * w);
    expect(m[genreIndex('Drama')]).toBe(1);
    expect(m.subarray(w, 2 * w).every((x) => x === 0)).toBe(true);
    expect(m[2 * w + genreIndex('Comedy')]).toBe(1);
    expect(m[2 * w + genreIndex('Drama')]).toBe(1);
  });
});
