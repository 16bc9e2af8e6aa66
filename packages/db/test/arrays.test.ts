import fc from 'fast-check';
import { boolArray, floatArray, intArray, textArray } from '../src/arrays.js';

test('int and float arrays reject what would not be one element', () => {
  expect(intArray([1, -2, 30], 'ids')).toBe('{1,-2,30}');
  expect(() => intArray([1, 1.5], 'ids')).toThrow(/ids: 1.5 at index 1 is not an integer/);
  expect(() => intArray([NaN], 'ids')).toThrow(/not an integer/);
  expect(floatArray([0.5, 5], 'ratings')).toBe('{0.5,5}');
  expect(boolArray([true, false])).toBe('{t,f}');
});

test('text arrays quote anything that could split or merge elements', () => {
  expect(textArray(['2024-01-01T10:00:00.000Z', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'])).toBe(
    '{2024-01-01T10:00:00.000Z,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
  );
  expect(textArray(['a,b', 'x"y', 'back\\slash', 'NULL', '', ' sp'])).toBe('{"a,b","x\\"y","back\\\\slash","NULL",""," sp"}');
});

/** A tiny parser of PostgreSQL's array literal grammar (one dimension), to check round trips. */
function parseTextArray(lit: string): string[] {
  const out: string[] = [];
  let i = 1;
  if (lit === '{}') return out;
  while (i < lit.length) {
    let v = '';
    if (lit[i] === '"') {
      i++;
      while (lit[i] !== '"') {
        if (lit[i] === '\\') i++;
        v += lit[i++];
      }
      i++;
    } else {
      while (lit[i] !== ',' && lit[i] !== '}') v += lit[i++];
    }
    out.push(v);
    i++; // , or }
  }
  return out;
}

test('text arrays round-trip any strings', () => {
  fc.assert(
    fc.property(fc.array(fc.string(), { minLength: 1 }), (values) => {
      expect(parseTextArray(textArray(values))).toEqual(values);
    }),
  );
});
