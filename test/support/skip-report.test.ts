/**
 * The run-level behaviour of the jest config, in a nested jest: a suite whose infrastructure is
 * missing is skipped by name with the command that enables it (under its file and after the
 * summary) and the run passes; with CI set the same suite fails the run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = 'test/support/fixtures/needs-cluster.fixture.ts';

function jest(env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  const args = [join(ROOT, 'node_modules/jest/bin/jest.js'), '--ci', `--testMatch=<rootDir>/${FIXTURE}`];
  return new Promise((done) => {
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('suites whose infrastructure is missing', () => {
  let noCluster: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    noCluster = await mkdtemp(join(tmpdir(), 'netflicks-no-cluster-'));
    env = { ...process.env, NETFLICKS_K8S_DIR: noCluster, NODE_OPTIONS: '--experimental-vm-modules', NETFLICKS_TEST_RUN_DIR: '' };
  });
  afterAll(async () => {
    await rm(noCluster, { recursive: true, force: true });
  });

  test('are skipped by name, with the command that enables them, and the run passes', async () => {
    const before = await runDirs();
    const r = await jest({ ...env, CI: '' });
    expect(r.code).toBe(0);
    const line = `"fixture suite needing a cluster": needs the Kubernetes test cluster (no kubeconfig at ${noCluster}/kubeconfig (the cluster is not up)); enable: npm run cluster:up`;
    expect(r.output).toContain(`  skipped ${FIXTURE} ${line}`);
    expect(r.output).toMatch(
      new RegExp(`Tests: +1 skipped[\\s\\S]*Ran all test suites.*\\n\\nSkipped 1 suite\\(s\\) whose infrastructure is missing[^\\n]*\\n  ${FIXTURE}  "fixture suite needing a cluster": needs the Kubernetes test cluster; enable: npm run cluster:up`),
    );
    expect(await runDirs()).toEqual(before); // the run removed its directory
  }, 70_000);

  test('fail the run when CI is set', async () => {
    const r = await jest({ ...env, CI: 'true' });
    expect(r.code).toBe(1);
    expect(r.output).toContain('fixture suite needing a cluster: needs the Kubernetes test cluster');
    expect(r.output).toContain('CI is set: failing instead of skipping. Provide it with: npm run cluster:up');
    expect(r.output).not.toContain('Skipped 1 suite');
  }, 70_000);
});

async function runDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((n) => n.startsWith('netflicks-test-run-')).sort();
}
