import fc from 'fast-check';
import { parseQuery } from '../src/http/query.js';

/** Koa 3's ctx.query: URLSearchParams, a repeated key as an array of its values. */
function reference(querystring: string): Record<string, string | string[]> {
  const params = new URLSearchParams(querystring);
  const out: Record<string, string | string[]> = {};
  for (const key of params.keys()) {
    const values = params.getAll(key);
    Object.defineProperty(out, key, { value: values.length <= 1 ? values[0] : values, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

describe('parseQuery', () => {
  test('pairs, bare keys, empty pairs and repeated keys', () => {
    expect({ ...parseQuery('k=10&genre=Comedy') }).toEqual({ k: '10', genre: 'Comedy' });
    expect({ ...parseQuery('k=1&&k=2&x&=v&k=') }).toEqual({ k: ['1', '2', ''], x: '', '': 'v' });
    expect({ ...parseQuery('a=b=c') }).toEqual({ a: 'b=c' });
    expect({ ...parseQuery('') }).toEqual({});
  });

  test('escapes decode as URLSearchParams does (plus, percent, malformed, bad UTF-8)', () => {
    expect({ ...parseQuery('genre=Film+Noir&q=%E2%9C%93&bad=%zz&half=%E2%9C') }).toEqual({
      genre: 'Film Noir',
      q: '✓',
      bad: '%zz',
      half: '\uFFFD',
    });
  });

  test('keys such as __proto__ are plain keys', () => {
    const q = parseQuery('__proto__=1&constructor=2');
    expect(q.__proto__).toBe('1');
    expect(q.constructor).toBe('2');
    expect(Object.getPrototypeOf(q)).toBeNull();
  });

  test('equals Koa’s URLSearchParams parsing for any query string', () => {
    const piece = fc.constantFrom('k', 'genre', 'x', '=', '&', '&&', '%', '%2', '%26', '%3D', '+', '10', 'é', '%C3%A9', '__proto__', '');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const qs = parts.join('');
        expect({ ...parseQuery(qs) }).toEqual(reference(qs));
      }),
      { numRuns: 2000 },
    );
  });
});
