/**
 * skaffold for the tests: the binary test/k8s/build.sh builds (pinned, from the Go module proxy),
 * always run through test/skaffold/skaffold.sh, which gives it what it needs around buildah and
 * the project's node. When the binary is missing the suite is skipped by name with the command
 * that builds it; under CI it fails.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteNamespaces, uniqueName, type TestKube } from '../support/kube.js';
import { runProcess, type ProcessResult } from '../support/process.js';
import { skipOrFail } from '../support/skip.js';
import { forwardToPods, POD_GATEWAY } from '../k8s/node-support.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The wrapper, relative to a checkout (tests run it in copies of the tree too). */
export const WRAPPER = 'test/skaffold/skaffold.sh';
const BUILD_SCRIPT = join(ROOT, 'test/k8s/build.sh');
const ENABLE = 'test/k8s/build.sh skaffold (builds skaffold from the Go module proxy, ~25 min cold on 2 cores)';

/** SKAFFOLD_VERSION's default in test/k8s/build.sh, unless the environment overrides it. */
async function pinnedVersion(): Promise<string> {
  if (process.env.SKAFFOLD_VERSION) return process.env.SKAFFOLD_VERSION;
  const script = await readFile(BUILD_SCRIPT, 'utf8');
  const m = /^SKAFFOLD_VERSION=\$\{SKAFFOLD_VERSION:-([^}]+)\}$/m.exec(script);
  if (!m) throw new Error('no SKAFFOLD_VERSION default in test/k8s/build.sh');
  return m[1];
}

export interface Skaffold {
  /** The built binary (for commands that need nothing around it). */
  bin: string;
  version: string;
}

/** The pinned skaffold when it is built; null means skip (never under CI, where it throws). */
export async function findSkaffold(suite: string): Promise<Skaffold | null> {
  const version = await pinnedVersion();
  const paths = await runProcess(BUILD_SCRIPT, ['paths'], { timeoutMs: 30_000 });
  const dir = /^SKAFFOLD_BIN=(.+)$/m.exec(paths.stdout)?.[1];
  let reason: string;
  if (paths.code !== 0 || !dir) {
    reason = `test/k8s/build.sh paths exited ${paths.code}: ${paths.stderr.trim()}`;
  } else {
    const bin = join(dir, 'skaffold');
    const r = await runProcess(bin, ['version'], { timeoutMs: 30_000 }).catch((err: Error) => ({ code: 127, stdout: '', stderr: err.message }));
    if (r.code === 0 && r.stdout.trim() === `v${version}`) return { bin, version };
    reason = r.code === 0 ? `${bin} reports ${r.stdout.trim()}, want v${version}` : `no skaffold at ${bin} (${r.stderr.trim()})`;
  }
  skipOrFail({ suite, needs: `skaffold v${version}`, enable: ENABLE, reason });
  return null;
}

export interface WrapperOptions {
  /** The checkout to run in (default: this one). */
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs: number;
}

/**
 * test/skaffold/skaffold.sh with these arguments, to completion. After timeoutMs its whole process
 * group gets Ctrl-C (skaffold cancels its builds), then SIGKILL a minute later.
 */
export async function skaffold(args: string[], opts: WrapperOptions): Promise<ProcessResult> {
  const running = startSkaffold(args, { ...opts, logFile: '/dev/null' });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void running.stop(60_000);
  }, opts.timeoutMs);
  try {
    const code = await running.exited;
    return { code, stdout: running.stdout(), stderr: running.stderr() + (timedOut ? `\n(stopped after ${opts.timeoutMs} ms)` : '') };
  } finally {
    clearTimeout(timer);
  }
}

export interface RunningSkaffold {
  /** Everything it printed so far (stdout and stderr, also written to the log file). */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** SIGINT to its process group (as Ctrl-C does), then its exit code; SIGKILL after timeoutMs. */
  stop(timeoutMs: number): Promise<number>;
  /** Resolves with the exit code when it ends by itself. */
  readonly exited: Promise<number>;
}

/** test/skaffold/skaffold.sh started in its own process group (for `dev`), its output teed to logFile. */
export function startSkaffold(args: string[], opts: Omit<WrapperOptions, 'timeoutMs'> & { logFile: string }): RunningSkaffold {
  const cwd = opts.cwd ?? ROOT;
  const child = spawn(join(cwd, WRAPPER), args, { cwd, env: { ...process.env, ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(opts.logFile);
  let text = '';
  const separate = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr'] as const) {
    child[name].setEncoding('utf8').on('data', (c: string) => {
      text += c;
      separate[name] += c;
      log.write(c);
    });
  }
  const exited = new Promise<number>((done) => {
    child.on('error', (err) => {
      text += `\ncannot start ${WRAPPER}: ${err.message}\n`;
      done(127);
    });
    child.on('close', (code) => {
      log.end();
      done(code ?? 1);
    });
  });
  const signal = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  return {
    output: () => text,
    stdout: () => separate.stdout,
    stderr: () => separate.stderr,
    exited,
    async stop(timeoutMs) {
      signal('SIGINT');
      const timer = setTimeout(() => signal('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The last lines of a long output, for failure messages. */
export function tail(text: string, lines = 60): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The local profile with the test PostgreSQL (Secret netflicks-database) and no Kafka. */
export const HOST_DATABASE_ENV = { NETFLICKS_VALUES: 'test/skaffold/host-database-values.yaml' };

export interface ReleaseNamespace {
  ns: string;
  /** Uninstalls a release left behind (a failed test), stops the forwarder, deletes the namespace. */
  cleanup(): Promise<void>;
}

/**
 * A fresh namespace for one skaffold release on the node, holding the Secret netflicks-database:
 * databaseUrl as the pods reach it, through a forwarder on their gateway.
 */
export async function releaseNamespace(kube: TestKube, prefix: string, databaseUrl: string): Promise<ReleaseNamespace> {
  const ns = uniqueName(prefix);
  const url = new URL(databaseUrl);
  const forwarder = await forwardToPods(Number(url.port));
  url.hostname = POD_GATEWAY;
  url.port = String(forwarder.port);
  await kube.ok(['create', 'namespace', ns]);
  await kube.ok(['-n', ns, 'create', 'secret', 'generic', 'netflicks-database', `--from-literal=url=${url.toString()}`]);
  return {
    ns,
    async cleanup() {
      await skaffold(['delete', '-p', 'local', '-n', ns], { env: HOST_DATABASE_ENV, timeoutMs: 180_000 });
      await forwarder.close();
      await deleteNamespaces(kube, [ns]);
    },
  };
}
