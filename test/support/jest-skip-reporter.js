/**
 * jest reporter: names every suite skipped for want of infrastructure (recorded by the helpers
 * through test/support/skip.ts), with one line under its test file as that file finishes. The
 * list after jest's summary comes from the global teardown (printSkipList), the one hook that
 * runs after the summary reporter.
 */
import { relative } from 'node:path';
import { readSkips, runDir } from './test-run.js';

const REASON_CHARS = 160;

export default class SkipReporter {
  #rootDir;
  #printed = new Set();

  constructor(globalConfig) {
    this.#rootDir = globalConfig.rootDir;
  }

  onTestResult(test) {
    const file = relative(this.#rootDir, test.path);
    for (const s of this.#skips().filter((r) => r.file === file)) {
      const key = `${s.file}\0${s.suite}`;
      if (this.#printed.has(key)) continue;
      this.#printed.add(key);
      process.stderr.write(`  skipped ${s.file} "${s.suite}": needs ${s.needs} (${shorten(s.reason)}); enable: ${s.enable}\n`);
    }
  }

  getLastError() {
    return undefined;
  }

  #skips() {
    const dir = runDir();
    return dir ? readSkips(dir) : [];
  }
}

/** What the run skipped and what enables each, one line per suite. */
export function printSkipList(dir) {
  const skips = readSkips(dir);
  if (skips.length === 0) return;
  const lines = skips
    .sort((a, b) => a.file.localeCompare(b.file) || a.suite.localeCompare(b.suite))
    .map((s) => `  ${s.file}  "${s.suite}": needs ${s.needs}; enable: ${s.enable}`);
  process.stderr.write(`\nSkipped ${skips.length} suite(s) whose infrastructure is missing (with CI set they fail instead):\n${lines.join('\n')}\n`);
}

/** The last line of a reason (the error itself, after any log), cut to fit one line. */
function shorten(reason) {
  const last = reason.trim().split('\n').filter((l) => l.trim() !== '').at(-1) ?? '';
  return last.length > REASON_CHARS ? `${last.slice(0, REASON_CHARS - 1)}…` : last;
}
