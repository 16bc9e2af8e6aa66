/**
 * The real node of the test cluster (test/k8s/node.sh, started by `npm run cluster:up`) and the
 * project's images on it (`npm run images:build`), for tests that run real pods.
 *
 * ensureNode() finds them; when either is missing the suite is skipped locally with the command
 * that enables it, and fails under CI. Pods run only on this node, so PostgreSQL on the host is
 * reached through a forwarder on the pods' gateway address (forwardToPods).
 */
import { get as httpGet } from 'node:http';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { skipOrFail } from '../support/skip.js';
import { ensureKube, type TestKube } from '../support/kube.js';

/** The pods' gateway: the host's address on the node's bridge (test/k8s/node.sh). */
export const POD_GATEWAY = '10.244.0.1';
export const NODE_NAME = 'netflicks-node';
/** What images.sh builds: the shared runtime stage (the examples' image) and one per target. */
export const APP_IMAGE = 'netflicks:latest';

const ENABLE = 'sudo npm run cluster:up && sudo npm run images:build';

interface NodeJson {
  status: { conditions: { type: string; status: string }[]; images?: { names: string[] }[] };
}

async function locate(kube: TestKube): Promise<void> {
  const r = await kube.kubectl(['get', 'node', NODE_NAME, '-o', 'json']);
  if (r.code !== 0) throw new Error(`no node ${NODE_NAME} in the test cluster (${r.stderr.trim()})`);
  const node = JSON.parse(r.stdout) as NodeJson;
  if (node.status.conditions.find((c) => c.type === 'Ready')?.status !== 'True') throw new Error(`node ${NODE_NAME} is not Ready`);
  const names = (node.status.images ?? []).flatMap((i) => i.names);
  if (!names.includes(`docker.io/library/${APP_IMAGE}`)) throw new Error(`the node has no image ${APP_IMAGE} (images: ${names.join(', ') || 'none'})`);
}

/**
 * The test cluster when it has a Ready node with the project's images; null means skip (never
 * under CI, where a missing node throws).
 */
export async function ensureNode(purpose: string): Promise<TestKube | null> {
  const kube = await ensureKube(purpose);
  if (!kube) return null;
  try {
    await locate(kube);
    return kube;
  } catch (err) {
    skipOrFail({ suite: purpose, needs: "the real node with the project's images", enable: ENABLE, reason: (err as Error).message });
    return null;
  }
}

/**
 * A TCP forwarder from the pods' gateway address to a service on the host's loopback (the test
 * PostgreSQL). Resolves to its port; close() stops it and every connection through it.
 */
export async function forwardToPods(targetPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, POD_GATEWAY, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * GET on a new TCP connection: kube-proxy balances connections, not requests, so a kept-alive
 * connection would send everything to one pod.
 */
export function getOnce(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

export interface LoadResult {
  /** Responses by HTTP status, and failures by error message (addresses masked). */
  statuses: Record<string, number>;
  /** Model versions that answered. */
  versions: number[];
}

/**
 * Sends requests through a Service, one connection each, from `workers` loops until stopped.
 * `{user}` in the URL becomes a random user id (1..users), so requests miss the API's result cache.
 */
export function loadGenerator(template: string, workers: number, users = 300): { stop(): Promise<LoadResult> } {
  let running = true;
  const statuses = new Map<string, number>();
  const versions = new Set<number>();
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const url = template.replace('{user}', String(1 + Math.floor(Math.random() * users)));
      try {
        const res = await getOnce(url);
        statuses.set(String(res.status), (statuses.get(String(res.status)) ?? 0) + 1);
        if (res.status === 200) versions.add((JSON.parse(res.body) as { model: { version: number } }).model.version);
      } catch (err) {
        const key = (err as Error).message.replace(/\d+\.\d+\.\d+\.\d+:\d+/, '<ip>');
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { statuses: Object.fromEntries(statuses), versions: [...versions].sort() };
    },
  };
}
