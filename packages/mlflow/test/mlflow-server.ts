/**
 * A real MLflow tracking server for a test file, through test/mlflow/mlflow.sh:
 * 1. a server this script already runs on $MLFLOW_PORT (CI starts one) is used as is;
 * 2. otherwise, if the venv is installed, a private server is started on a free port (with its
 *    own store) and stopped when the file's tests end;
 * 3. otherwise: under CI the file fails; locally it is skipped with the command that enables it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipOrFail } from '../../../test/support/skip.js';
import { freePort } from '../../../test/support/net.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const MLFLOW_SCRIPT = join(ROOT, 'test/mlflow/mlflow.sh');
const SCRIPT_TIMEOUT_MS = 180_000;

export interface MlflowServer {
  url: string;
  /** The venv's python, with MLflow's own client installed. */
  python: string;
  stop(): Promise<void>;
}

function script(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(MLFLOW_SCRIPT, args, { env: { ...process.env, ...env }, timeout: SCRIPT_TIMEOUT_MS }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}


async function find(): Promise<MlflowServer | string> {
  const python = await script(['python']);
  if (python.code !== 0) return `MLflow is not installed (${python.stderr.trim()})`;
  const venvPython = python.stdout.trim();
  if (process.env.MLFLOW_PORT) {
    const status = await script(['status']);
    if (status.code === 0) return { url: `http://127.0.0.1:${process.env.MLFLOW_PORT}`, python: venvPython, stop: async () => undefined };
  }
  const port = await freePort();
  const runDir = await mkdtemp(join(tmpdir(), 'nflx-mlflow-'));
  const env = { MLFLOW_PORT: String(port), MLFLOW_RUN_DIR: runDir };
  const up = await script(['up'], env);
  if (up.code !== 0) {
    await rm(runDir, { recursive: true, force: true });
    return `test/mlflow/mlflow.sh up failed: ${up.stderr.trim().slice(-2000)}`;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    python: venvPython,
    stop: async () => {
      await script(['down'], env);
      await rm(runDir, { recursive: true, force: true });
    },
  };
}

/**
 * The server for this test file, stopped after its tests (if this file started it); null means
 * skip (never under CI). `what` names the suite in the skip message.
 */
export async function mlflowForTests(what: string): Promise<MlflowServer | null> {
  const found = await find();
  if (typeof found === 'string') {
    skipOrFail({ suite: what, needs: 'MLflow', enable: 'npm run mlflow:up (installs MLflow into the cache once, ~2 min)', reason: found });
    return null;
  }
  afterAll(() => found.stop());
  return found;
}

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** GET an MLflow REST endpoint, as the UI does; throws on an error status. */
export async function mlflowGet(server: MlflowServer, endpoint: string, query: Record<string, string>): Promise<Json> {
  const res = await fetch(`${server.url}/api/2.0/mlflow/${endpoint}?${new URLSearchParams(query)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${endpoint}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** MLflow's [{key, value}] lists as an object. */
export const keyValues = (list: Array<{ key: string; value: string }> | undefined): Record<string, string> => Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));

/** A TCP server that accepts connections and never replies (a hung MLflow); close() drops them. */
export async function hangingServer(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
