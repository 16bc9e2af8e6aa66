/**
 * Work split into steps is a generator that yields between them (a serving process awaits a turn
 * of its event loop at each yield during a hot swap); everything else runs it to the end at once.
 */

/** Runs `steps` to its end without pausing and returns its result. */
export function runToEnd<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
