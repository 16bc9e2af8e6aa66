import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { parseSplitSpec } from '@netflicks/recsys';

/** Commander argument parsers that reject bad values with a one-line reason. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError('must be a positive integer');
  }
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('must be a non-negative integer');
  }
  return n;
}

/** `--json` of commands whose result is always one JSON document: every command that prints results takes it. */
export const JSON_ALWAYS = 'print the result as JSON (this command always does; accepted for scripts that pass --json everywhere)';

/** A TCP port; 0 asks for any free one. */
export function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) throw new InvalidArgumentError('must be a port number 0..65535');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError('must be a positive number');
  }
  return n;
}

export function integer(value: string): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('must be an integer');
  }
  return n;
}

/** Parses a comma-separated list, each entry one of `allowed`; duplicates collapse. */
export function listOf<T extends string>(allowed: readonly T[]): (value: string) => T[] {
  return (value) => {
    const items = value
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0);
    if (items.length === 0) throw new InvalidArgumentError(`must list at least one of ${allowed.join(', ')}`);
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item)) {
        throw new InvalidArgumentError(`unknown '${item}' (choose from ${allowed.join(', ')})`);
      }
    }
    return [...new Set(items)] as T[];
  };
}

/** Validates a split spec at parse time (the split itself is made once the dataset is loaded). */
export function splitSpec(value: string): string {
  try {
    parseSplitSpec(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  return value;
}

/** A file to read: it exists and is not a folder. */
export function inputFile(value: string): string {
  const st = statSync(value, { throwIfNoEntry: false });
  if (!st) throw new InvalidArgumentError('no such file');
  if (st.isDirectory()) throw new InvalidArgumentError('is a folder, not a file');
  return value;
}

/** A folder to read. */
export function inputFolder(value: string): string {
  const st = statSync(value, { throwIfNoEntry: false });
  if (!st) throw new InvalidArgumentError('no such folder');
  if (!st.isDirectory()) throw new InvalidArgumentError('is a file, not a folder');
  return value;
}

/** A file to write: its folder exists (checked before the work that produces it). */
export function outputFile(value: string): string {
  const folder = dirname(resolve(value));
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new InvalidArgumentError(`folder ${folder} does not exist`);
  if (statSync(value, { throwIfNoEntry: false })?.isDirectory()) throw new InvalidArgumentError('is a folder, not a file');
  return value;
}
