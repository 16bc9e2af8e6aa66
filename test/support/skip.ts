/**
 * What a suite does when its infrastructure is missing: under CI it FAILS (a suite must never pass
 * by skipping there); locally it is skipped, by name, with what it needs and the command that
 * provides it. The skip is recorded for the run: the reporter (test/support/jest-skip-reporter.js)
 * prints one line under the test file and a list after jest's summary.
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCi, recordSkip, runDir, type SkipRecord } from './test-run.js';

export { isCi };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export type MissingInfrastructure = Omit<SkipRecord, 'file'>;

/** Throws under CI; otherwise records the skip (the caller then registers its suite as skipped). */
export function skipOrFail(missing: MissingInfrastructure): void {
  const what = `${missing.suite}: needs ${missing.needs} (${missing.reason})`;
  if (isCi()) throw new Error(`${what}\nCI is set: failing instead of skipping. Provide it with: ${missing.enable}`);
  const testPath = expect.getState().testPath;
  const record: SkipRecord = { ...missing, file: testPath ? relative(ROOT, testPath) : '(unknown test file)' };
  const dir = runDir();
  if (dir) recordSkip(dir, record);
  else console.warn(`SKIPPING ${what}; enable with: ${missing.enable}`);
}
