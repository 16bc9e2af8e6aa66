/**
 * PostgreSQL array literals for unnest parameters. node-postgres serialises JS arrays element by
 * element with quoting (≈0.5 µs per number); joining is several times cheaper, and a batch sends
 * a dozen arrays of thousands of elements. Values that could break the literal are quoted, and
 * numbers are checked, so elements can never shift between rows.
 */

/** `{1,2,3}`; every value must be an integer. */
export function intArray(values: readonly number[], what: string): string {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isInteger(values[i])) throw new TypeError(`${what}: ${String(values[i])} at index ${i} is not an integer`);
  }
  return `{${values.join(',')}}`;
}

/** `{0.5,3}`; every value must be a number (NaN and ±Infinity are valid float input). */
export function floatArray(values: readonly number[], what: string): string {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number') throw new TypeError(`${what}: ${String(values[i])} at index ${i} is not a number`);
  }
  return `{${values.join(',')}}`;
}

export function boolArray(values: readonly boolean[]): string {
  return `{${values.map((v) => (v ? 't' : 'f')).join(',')}}`;
}

const BARE = /^[A-Za-z0-9_.:+\-/]+$/;

/** Text elements: bare when harmless (ids, ISO timestamps), else double-quoted and escaped. */
export function textArray(values: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    out += BARE.test(v) && v.toUpperCase() !== 'NULL' ? v : `"${v.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${out}}`;
}
