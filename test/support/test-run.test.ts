/** The test PostgreSQL's instance (its data directory) follows the port, so two runs never share one. */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MODULE = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), 'test-run.js')).href;

function instanceFor(port: string | undefined): Promise<string> {
  const env = { ...process.env };
  if (port === undefined) delete env.NETFLICKS_TEST_PG_PORT;
  else env.NETFLICKS_TEST_PG_PORT = port;
  const script = `import(${JSON.stringify(MODULE)}).then((m) => process.stdout.write(m.TEST_PG_INSTANCE))`;
  return new Promise((done, fail) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env, timeout: 30_000 }, (err, stdout) => (err ? fail(err) : done(stdout)));
  });
}

describe('TEST_PG_INSTANCE', () => {
  test('the default port keeps the instance "test"', async () => {
    expect(await instanceFor(undefined)).toBe('test');
    expect(await instanceFor('15439')).toBe('test');
  });

  test('another port gets its own instance', async () => {
    expect(await instanceFor('55391')).toBe('test-55391');
    expect(await instanceFor(' 55392 ')).toBe('test-55392');
  });
});
