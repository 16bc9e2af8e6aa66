/**
 * Plausible titles for the synthetic world, so that its recommendations can be judged by eye: a
 * movie's title is drawn from the word lists of its main genre (a horror movie sounds like one),
 * from a random stream of its own (titles never change the ratings a seed produces).
 */
import { Random } from '@netflicks/recsys';

interface WordLists {
  adjectives: readonly string[];
  nouns: readonly string[];
  places: readonly string[];
}

/** Title patterns; {A} adjective, {N} noun, {P} place, {W} a given name. */
const PATTERNS = ['The {A} {N}', '{A} {N}', '{N} of {P}', 'The {N} of {P}', '{W} and the {N}', '{N} at {P}', 'Return of the {A} {N}', "{W}'s {N}"] as const;

const NAMES = [
  'Ada', 'Bruno', 'Clara', 'Dexter', 'Elsie', 'Felix', 'Greta', 'Hugo', 'Iris', 'Jonah', 'Kit', 'Lena',
  'Milo', 'Nora', 'Otto', 'Pearl', 'Quinn', 'Rosa', 'Silas', 'Tess', 'Ulla', 'Vince', 'Wren', 'Zelda',
];

/** Genre families: genres whose titles sound alike share word lists. */
const FAMILIES: Record<string, WordLists> = {
  action: {
    adjectives: ['Iron', 'Burning', 'Last', 'Savage', 'Broken', 'Crimson', 'Silent', 'Rogue', 'Steel', 'Wild', 'Lone', 'Final', 'Scorched', 'Black', 'Relentless', 'Thunder'],
    nouns: ['Frontier', 'Vendetta', 'Siege', 'Outlaw', 'Strike', 'Convoy', 'Ridge', 'Legion', 'Gunfight', 'Patrol', 'Bounty', 'Raid', 'Fortress', 'Pursuit', 'Harbor', 'Trail'],
    places: ['Red Canyon', 'Fort Bravo', 'the Badlands', "Dead Man's Pass", 'the Northern Front', 'Copper Creek', 'the Delta', 'Stone River', 'the Border', 'Eagle Point'],
  },
  dark: {
    adjectives: ['Hollow', 'Midnight', 'Crooked', 'Pale', 'Shallow', 'Cold', 'Velvet', 'Nameless', 'Drowned', 'Whispering', 'Bitter', 'Grey', 'Sleepless', 'Hidden', 'Fallen', 'Restless'],
    nouns: ['Alibi', 'Witness', 'Cellar', 'Stranger', 'Confession', 'Debt', 'Shadow', 'Ransom', 'Mask', 'Verdict', 'Reckoning', 'Orchard', 'Undertow', 'Motive', 'Lantern', 'Caller'],
    places: ['Blackwood', 'Wicker Lane', 'Raven Street', 'the Marsh', 'Harrow House', 'the Pier', 'Ashford', 'the Old Mill', 'Lower East Side', 'Saint Agnes'],
  },
  light: {
    adjectives: ['Lucky', 'Crazy', 'Sweet', 'Little', 'Perfect', 'Wonderful', 'Big', 'Sunny', 'Merry', 'Runaway', 'Accidental', 'Dizzy', 'Golden', 'Charming', 'Second', 'Jolly'],
    nouns: ['Wedding', 'Holiday', 'Neighbors', 'Serenade', 'Road Trip', 'Puppy', 'Bakery', 'Honeymoon', 'Summer', 'Dance', 'Sweetheart', 'Circus', 'Reunion', 'Parade', 'Picnic', 'Valentine'],
    places: ['Paris', 'Maple Lane', 'the Seaside', 'Tinsel Town', 'Camp Willow', 'Brooklyn', 'Rosewood', 'the Big City', 'Pumpkin Patch', 'Monte Carlo'],
  },
  wonder: {
    adjectives: ['Forgotten', 'Distant', 'Starborn', 'Emerald', 'Eternal', 'Shattered', 'Luminous', 'Frozen', 'Ancient', 'Silver', 'Enchanted', 'Outer', 'Infinite', 'Clockwork', 'Sunken', 'Crystal'],
    nouns: ['Kingdom', 'Signal', 'Voyager', 'Dragon', 'Colony', 'Oracle', 'Horizon', 'Machine', 'Crown', 'Nebula', 'Sorcerer', 'Gateway', 'Android', 'Prophecy', 'Orbit', 'Relic'],
    places: ['Andromeda', 'the Lost Isles', 'Mars', 'Eldoria', 'the Outer Rim', 'Atlantis', 'the Ice Moon', 'Zephyr Station', 'the Secret Vale', 'Tomorrow'],
  },
  real: {
    adjectives: ['Quiet', 'Long', 'Small', 'Open', 'Borrowed', 'Honest', 'Late', 'Ordinary', 'Unfinished', 'Private', 'Gentle', 'Early', 'Lasting', 'Common', 'Vanishing', 'True'],
    nouns: ['Season', 'Letters', 'Harvest', 'Inheritance', 'Promise', 'Daughter', 'Crossing', 'Winter', 'Homecoming', 'Portrait', 'Testament', 'Years', 'Voices', 'Garden', 'Distance', 'Light'],
    places: ['Galway', 'the Valley', 'Mulberry Street', 'Lake Ellen', 'the Mill Town', 'Havana', 'Kessler Farm', 'the Coast', 'Prairie Hill', 'Vienna'],
  },
};

const FAMILY_OF_GENRE: Record<string, keyof typeof FAMILIES> = {
  Action: 'action', Adventure: 'action', War: 'action', Western: 'action',
  Crime: 'dark', 'Film-Noir': 'dark', Horror: 'dark', Mystery: 'dark', Thriller: 'dark',
  Animation: 'light', Children: 'light', Comedy: 'light', Musical: 'light', Romance: 'light',
  Fantasy: 'wonder', 'Sci-Fi': 'wonder',
  Documentary: 'real', Drama: 'real',
};

const SEQUELS = ['II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X'];

/** A seed for the titles' stream, unrelated to the world's own stream from the same seed. */
const TITLE_STREAM = 0x7469746c;

/**
 * One title per movie, from the family of its main genre; unique within the world (a repeat
 * becomes a sequel: "Iron Siege II", and past the tenth, a numbered one).
 */
export function syntheticTitles(seed: number, mainGenres: readonly string[]): string[] {
  const rng = new Random((seed ^ TITLE_STREAM) >>> 0);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const seen = new Map<string, number>();
  return mainGenres.map((genre) => {
    const words = FAMILIES[FAMILY_OF_GENRE[genre] ?? 'real'];
    const base = pick(PATTERNS).replace(/\{([ANPW])\}/g, (_m, slot: string) =>
      pick(slot === 'A' ? words.adjectives : slot === 'N' ? words.nouns : slot === 'P' ? words.places : NAMES),
    );
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base} ${SEQUELS[n - 1] ?? n + 1}`;
  });
}
