import { decodeModelFile, openBundle, type LoadedBundle } from '@netflicks/recsys';
import { MAX_K, ServingEngine, type ScoredMovie } from '../src/engine/engine.js';
import { ItemJsonTable } from '../src/model/item-json.js';
import { trainTestModel } from './support.js';

let bundle: LoadedBundle;
let engine: ServingEngine;
let table: ItemJsonTable;
/** Titles that JSON escapes or encodes in more than one UTF-8 byte per character. */
const awkward = ['Amélie — «Le fabuleux destin» 🎬', 'A "quoted"\\backslashed\ttitle\n', 'Ωmega\u2028line \u0000'];

beforeAll(async () => {
  const model = await trainTestModel({
    users: 120,
    movies: 200,
    ratings: 5000,
    titles: (d) => Object.fromEntries(awkward.map((title, j) => [d.ratings.item[j * 7], title])),
  });
  bundle = openBundle(decodeModelFile(model.bytes));
  engine = new ServingEngine(bundle);
  table = ItemJsonTable.build(bundle);
});

/** Today's object, as the Koa route would have built and stringified it. */
function expected(head: Record<string, unknown>, items: readonly ScoredMovie[], requestId: string): string {
  const listed = items.map(({ movieId, score }) => {
    const m = bundle.movie(movieId);
    return { movieId, title: m?.title ?? '', year: m?.year ?? null, genres: m?.genres ?? [], score };
  });
  return JSON.stringify({ ...head, items: listed, requestId });
}

function body(userId: number, strategy: string, items: readonly ScoredMovie[] | Buffer, requestId: string): Buffer {
  return table.listBody('userId', userId, `"strategy":${JSON.stringify(strategy)},"model":{"name":"m","version":3},`, items, requestId);
}

describe('list bodies from the item JSON table', () => {
  test('byte for byte what JSON.stringify writes, for every user at k = 10 and k = MAX_K', () => {
    let lists = 0;
    for (const userId of Array.from(bundle.users.toArray())) {
      for (const k of [10, MAX_K]) {
        const { strategy, items } = engine.recommend({ userId, k });
        const want = expected({ userId, strategy, model: { name: 'm', version: 3 } }, items, `req-${userId}`);
        expect(body(userId, strategy, items, `req-${userId}`).equals(Buffer.from(want))).toBe(true);
        lists++;
      }
    }
    expect(lists).toBe(240);
  });

  test('titles JSON escapes, several-byte characters, non-finite scores, unknown movies and empty lists', () => {
    const withTitles = awkward.map((title) => Array.from(bundle.items.toArray()).find((id) => bundle.movie(id)?.title === title)!);
    expect(withTitles.every((id) => id !== undefined)).toBe(true);
    const items: ScoredMovie[] = [
      ...withTitles.map((movieId, j) => ({ movieId, score: [Math.fround(0.1), -1.5e-7, 123456789.125][j] })),
      { movieId: bundle.items.id(0), score: Number.NaN },
      { movieId: bundle.items.id(1), score: Number.POSITIVE_INFINITY },
      { movieId: bundle.items.id(2), score: Number.NEGATIVE_INFINITY },
      // Numbers JSON writes in forms of their own: -0 as 0, exponents.
      { movieId: bundle.items.id(3), score: -0 },
      { movieId: bundle.items.id(4), score: 1e21 },
      { movieId: bundle.items.id(5), score: -2.5e-300 },
      // Not in the item index: rendered on the spot with the same defaults.
      { movieId: 2_000_000_000, score: 0.5 },
    ];
    // Request ids JSON must escape, or encode in several bytes (the API makes or accepts none such, but the body stays right).
    for (const requestId of ['é-id', 'a"b\\c\n']) {
      const want = expected({ userId: 1, strategy: 'cf', model: { name: 'm', version: 3 } }, items, requestId);
      expect(body(1, 'cf', items, requestId).toString()).toBe(want);
      expect(body(1, 'cf', items, requestId).length).toBe(Buffer.byteLength(want));
    }
    const similar = table.listBody('movieId', 42, '"strategy":"cf-similar","model":{"name":"m","version":null},', items.slice(0, 2), 'x');
    expect(similar.toString()).toBe(expected({ movieId: 42, strategy: 'cf-similar', model: { name: 'm', version: null } }, items.slice(0, 2), 'x'));
    expect(body(1, 'popular', [], 'x').toString()).toBe(expected({ userId: 1, strategy: 'popular', model: { name: 'm', version: 3 } }, [], 'x'));
    expect(table.items([]).toString()).toBe('[]');
  });

  test('items rendered once and passed as bytes give the same body', () => {
    const { strategy, items } = engine.recommend({ userId: bundle.users.id(3), k: 25 });
    const rendered = table.items(items);
    expect(rendered.toString()).toBe(JSON.stringify(JSON.parse(rendered.toString())));
    expect(body(7, strategy, rendered, 'r').equals(body(7, strategy, items, 'r'))).toBe(true);
  });

  test('the stepwise build pauses between steps and builds the same table', async () => {
    let pauses = 0;
    const stepped = await ItemJsonTable.buildInSteps(bundle, async () => void pauses++);
    expect(pauses).toBe(2); // before rendering and before writing (≤ 512 movies: one step each)
    const { items } = engine.recommend({ userId: bundle.users.id(0), k: MAX_K });
    expect(stepped.items(items).equals(table.items(items))).toBe(true);
  });
});
