import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The image's entrypoint. A stand-in for node (NETFLICKS_NODE) prints what it was started with.
const LAUNCHER = fileURLToPath(new URL('../bin/netflicks.sh', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/netflicks.js', import.meta.url));

let dir: string;
let fakeNode: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netflicks-launcher-'));
  fakeNode = join(dir, 'node');
  await writeFile(fakeNode, '#!/bin/sh\nprintf "%s\\n" "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-unset}" "MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-unset}" "$@"\n');
  await chmod(fakeNode, 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function launch(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const { MALLOC_ARENA_MAX: _, MALLOC_MMAP_THRESHOLD_: __, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', [LAUNCHER, ...args], { env: { ...inherited, NETFLICKS_NODE: fakeNode, ...env } }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim().split('\n'))));
  });
}

describe('netflicks.sh, the image entrypoint', () => {
  test('serve runs with the serving heap flag, two malloc arenas and a fixed mmap threshold', async () => {
    expect(await launch(['serve', '--model', 'm.nflx', '--port', '8082'])).toEqual([
      'MALLOC_ARENA_MAX=2',
      'MALLOC_MMAP_THRESHOLD_=131072',
      '--max-semi-space-size=4',
      CLI,
      'serve',
      '--model',
      'm.nflx',
      '--port',
      '8082',
    ]);
  });

  test('an arena count and an mmap threshold set by the operator are kept', async () => {
    expect((await launch(['serve'], { MALLOC_ARENA_MAX: '4', MALLOC_MMAP_THRESHOLD_: '65536' })).slice(0, 2)).toEqual(['MALLOC_ARENA_MAX=4', 'MALLOC_MMAP_THRESHOLD_=65536']);
  });

  test('every other command runs as plain node, arguments untouched', async () => {
    expect(await launch(['trainer', '--data', 'a b'])).toEqual(['MALLOC_ARENA_MAX=unset', 'MALLOC_MMAP_THRESHOLD_=unset', CLI, 'trainer', '--data', 'a b']);
    expect(await launch([])).toEqual(['MALLOC_ARENA_MAX=unset', 'MALLOC_MMAP_THRESHOLD_=unset', CLI]);
  });
});
