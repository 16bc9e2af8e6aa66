/** Checks of training parameters, with the messages every trainer uses. */

/** Threads to use: at least 1, an integer. */
export function resolveThreads(threads: number | undefined): number {
  if (threads === undefined) return 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be an integer >= 1, got ${threads}`);
  return threads;
}

export function checkPositive(name: string, value: number, allowZero = false): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(`${name} must be ${allowZero ? 'non-negative' : 'positive'}, got ${value}`);
  }
}

export function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}
