import { moveTrailingArticle, parseTitle, yearFromReleaseDate } from '../src/titles.js';

describe('parseTitle', () => {
  // [raw, title, year, endYear]
  const cases: [string, string, number | null, number | null][] = [
    ['Toy Story (1995)', 'Toy Story', 1995, null],
    ['American President, The (1995)', 'The American President', 1995, null],
    ['Bug\'s Life, A (1998)', "A Bug's Life", 1998, null],
    ['Affair to Remember, An (1957)', 'An Affair to Remember', 1957, null],
    // alternative title kept verbatim; only the main title's article moves
    [
      'City of Lost Children, The (Cité des enfants perdus, La) (1995)',
      'The City of Lost Children (Cité des enfants perdus, La)',
      1995,
      null,
    ],
    [
      'Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)',
      'The Good, the Bad and the Ugly (Buono, il brutto, il cattivo, Il)',
      1966,
      null,
    ],
    ['Seven (a.k.a. Se7en) (1995)', 'Seven (a.k.a. Se7en)', 1995, null],
    // foreign articles
    ['Misérables, Les (1995)', 'Les Misérables', 1995, null],
    ['Haine, La (1995)', 'La Haine', 1995, null],
    ['Ballon rouge, Le (1956)', 'Le Ballon rouge', 1956, null],
    ["Eclisse, L' (1962)", "L'Eclisse", 1962, null],
    ['Eclisse, L’ (1962)', "L'Eclisse", 1962, null],
    ['Postino, Il (1994)', 'Il Postino', 1994, null],
    ['Boot, Das (1981)', 'Das Boot', 1981, null],
    ['Blechtrommel, Die (1979)', 'Die Blechtrommel', 1979, null],
    ['Himmel über Berlin, Der (1987)', 'Der Himmel über Berlin', 1987, null],
    ['Mariachi, El (1992)', 'El Mariachi', 1992, null],
    // a comma that is not an article stays
    ['Crouching Tiger, Hidden Dragon (2000)', 'Crouching Tiger, Hidden Dragon', 2000, null],
    ['Me, Myself and Irene (2000)', 'Me, Myself and Irene', 2000, null],
    // lower-case article is capitalised at the front
    ['Hound of the Baskervilles, the (1959)', 'The Hound of the Baskervilles', 1959, null],
    // year ranges, open ranges, no year, odd whitespace
    ['Planet Earth (2006-2007)', 'Planet Earth', 2006, 2007],
    ['Some Series (2007–2013)', 'Some Series', 2007, 2013],
    ['Running Show (2016- )', 'Running Show', 2016, null],
    ['Hyena Road', 'Hyena Road', null, null],
    ['Babylon 5 ', 'Babylon 5', null, null],
    ['  Title   With  Spaces (1999)   ', 'Title With Spaces', 1999, null],
    ['Toy Story(1995)', 'Toy Story', 1995, null],
    ['Toy Story ( 1995 )', 'Toy Story', 1995, null],
    // numbers that are titles, not years
    ['1984 (1984)', '1984', 1984, null],
    ['(500) Days of Summer (2009)', '(500) Days of Summer', 2009, null],
    ['2001: A Space Odyssey (1968)', '2001: A Space Odyssey', 1968, null],
    ['Ocean\'s Eleven (a.k.a. Ocean\'s 11) (1960)', "Ocean's Eleven (a.k.a. Ocean's 11)", 1960, null],
    ['Room 1408 (2007)', 'Room 1408', 2007, null],
    // a 4-digit group that is not a plausible year stays in the title
    ['Gadget (9999)', 'Gadget (9999)', null, null],
    // unbalanced parentheses are left alone
    ['Broken (Title (2001)', 'Broken (Title', 2001, null],
    ['unknown', 'unknown', null, null],
    ['', '', null, null],
  ];
  it.each(cases)('%j', (raw, title, year, endYear) => {
    expect(parseTitle(raw)).toEqual({ title, year, endYear });
  });
});

describe('moveTrailingArticle', () => {
  it.each([
    ['Usual Suspects, The', 'The Usual Suspects'],
    ['The Usual Suspects', 'The Usual Suspects'],
    [', The', ', The'],
    ['Sex, Lies, and Videotape', 'Sex, Lies, and Videotape'],
  ])('%j → %j', (raw, expected) => {
    expect(moveTrailingArticle(raw)).toBe(expected);
  });
});

describe('yearFromReleaseDate', () => {
  it.each([
    ['01-Jan-1995', 1995],
    ['12-May-1997 ', 1997],
    ['', null],
    ['soon', null],
  ])('%j → %j', (raw, expected) => {
    expect(yearFromReleaseDate(raw)).toBe(expected);
  });
});
