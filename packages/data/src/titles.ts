/**
 * MovieLens title cleaning: "American President, The (1995)" → { title: "The American President", year: 1995 }.
 *
 * A MovieLens title is `main [(alternative title)...] [(year)]`. We extract the year from the last
 * parenthesised group only, and move a trailing article of the MAIN title to the front; alternative
 * titles in parentheses are kept verbatim ("City of Lost Children, The (Cité des enfants perdus, La)"
 * → "The City of Lost Children (Cité des enfants perdus, La)"): rewriting them would guess at
 * foreign grammar for little gain.
 */

export interface ParsedTitle {
  /** Display title, trailing article moved, whitespace collapsed, year removed. */
  title: string;
  /** Release year (first year of a "(2007-2013)" range), or null when the title has none. */
  year: number | null;
  /** Last year of a range "(2007-2013)"; null otherwise, including open ranges "(2007-)". */
  endYear: number | null;
}

/**
 * Articles MovieLens moves to the end ("Postino, Il"). Lower-cased; matched case-insensitively.
 * English, French, Italian, German, Spanish, Portuguese, Dutch and Scandinavian forms.
 */
const ARTICLES = new Set([
  'the', 'a', 'an',
  'le', 'la', 'les', "l'", 'un', 'une',
  'il', 'lo', 'gli', 'i', 'uno', 'una',
  'der', 'die', 'das', 'ein', 'eine',
  'el', 'los', 'las',
  'o', 'os', 'as',
  'de', 'het', 'een',
  'den', 'det', 'en', 'ett',
]);

const YEAR_GROUP = /^\(\s*(\d{4})\s*(?:[-–—]\s*(\d{4})?\s*)?\)$/;
const MIN_YEAR = 1870;
const MAX_YEAR = 2100;

/** Index of the '(' matching the ')' at `close`, or -1. */
function matchingOpen(s: string, close: number): number {
  let depth = 0;
  for (let i = close; i >= 0; i--) {
    const c = s[i];
    if (c === ')') depth++;
    else if (c === '(' && --depth === 0) return i;
  }
  return -1;
}

/** Moves a trailing ", The" / ", L'" of `main` to its front; other titles are returned unchanged. */
export function moveTrailingArticle(main: string): string {
  const comma = main.lastIndexOf(',');
  if (comma <= 0) return main;
  const article = main.slice(comma + 1).trim().replace('’', "'");
  if (!ARTICLES.has(article.toLowerCase())) return main;
  const rest = main.slice(0, comma).trimEnd();
  if (rest.length === 0) return main;
  const front = article[0].toUpperCase() + article.slice(1);
  // Elided articles attach without a space: "Eclisse, L'" → "L'Eclisse".
  return front.endsWith("'") ? front + rest : `${front} ${rest}`;
}

/** Splits, cleans and de-articles a raw MovieLens title. */
export function parseTitle(raw: string): ParsedTitle {
  let s = raw.replace(/\s+/g, ' ').trim();
  const groups: string[] = [];
  // Peel trailing "(...)" groups off the end; whatever precedes them is the main title.
  while (s.endsWith(')')) {
    const open = matchingOpen(s, s.length - 1);
    if (open <= 0) break; // unbalanced, or the whole title is one group: leave it alone
    groups.unshift(s.slice(open));
    s = s.slice(0, open).trimEnd();
  }
  let year: number | null = null;
  let endYear: number | null = null;
  const last = groups.length > 0 ? YEAR_GROUP.exec(groups[groups.length - 1]) : null;
  if (last) {
    const y = Number(last[1]);
    if (y >= MIN_YEAR && y <= MAX_YEAR) {
      year = y;
      endYear = last[2] !== undefined ? Number(last[2]) : null;
      groups.pop();
    }
  }
  const main = moveTrailingArticle(s);
  const title = [main, ...groups].filter((p) => p.length > 0).join(' ');
  return { title, year, endYear };
}

/** Year from a MovieLens-100K release date such as "01-Jan-1995"; null when absent or malformed. */
export function yearFromReleaseDate(date: string): number | null {
  const m = /(\d{4})\s*$/.exec(date.trim());
  if (!m) return null;
  const y = Number(m[1]);
  return y >= MIN_YEAR && y <= MAX_YEAR ? y : null;
}
