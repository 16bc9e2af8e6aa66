/**
 * A small typed REST layer over the Kubernetes API. Authentication, TLS and in-cluster config come
 * from @kubernetes/client-node's KubeConfig; requests go through node:https so that server-side
 * apply, status patches and watches are plain HTTP with no per-call header plumbing, and every
 * request is counted (rest_client_requests_total, the client-go name).
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import type { ObjectMeta as GeneratedObjectMeta } from '../generated/crd-types.js';

export type { OwnerReference } from '../generated/crd-types.js';

/** The generated metav1.ObjectMeta (crds/ → src/generated), with the name every object has. */
export interface ObjectMeta extends GeneratedObjectMeta {
  name: string;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface KubeList<T extends KubeObject> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

/** Where a kind lives in the REST API. */
export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export function apiVersionOf(r: ResourceType): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.status === 409;
export const isAlreadyExists = (err: unknown): boolean => err instanceof KubeApiError && err.status === 409 && err.reason === 'AlreadyExists';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface RequestObserver {
  (method: string, status: number, seconds: number): void;
}

export interface RequestOpts {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

/** Where a path resolves: collection (no name) or object, optionally a subresource. */
export function resourcePath(r: ResourceType, namespace: string | undefined, name?: string, subresource?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name ? `/${encodeURIComponent(name)}` : '';
  return `${base}${ns}/${r.plural}${obj}${subresource ? `/${subresource}` : ''}`;
}

export class KubeApi {
  private readonly server: URL;

  constructor(
    private readonly kc: KubeConfig,
    private readonly observe: RequestObserver = () => {},
  ) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  /** In-cluster config when running in a pod, else $KUBECONFIG / ~/.kube/config. */
  static fromEnvironment(observe?: RequestObserver, kubeconfigPath?: string): KubeApi {
    const kc = new KubeConfig();
    if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
    else kc.loadFromDefault();
    return new KubeApi(kc, observe);
  }

  private async options(method: string, path: string, headers: Record<string, string>, timeoutMs: number): Promise<RequestOptions> {
    const opts: RequestOptions = {
      method,
      protocol: this.server.protocol,
      hostname: this.server.hostname,
      port: this.server.port || (this.server.protocol === 'https:' ? 443 : 80),
      path: `${this.server.pathname.replace(/\/$/, '')}${path}`,
      headers: { accept: 'application/json', ...headers },
      timeout: timeoutMs,
    };
    await this.kc.applyToHTTPSOptions(opts);
    return opts;
  }

  private send(opts: RequestOptions, body: string | undefined): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = (opts.protocol === 'http:' ? httpRequest : httpsRequest)(opts, resolve);
      req.on('timeout', () => req.destroy(new Error(`request timed out after ${opts.timeout} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async request<T>(method: string, path: string, o: RequestOpts = {}): Promise<T> {
    const query = queryString(o.query);
    const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
    const t0 = performance.now();
    let status = 0;
    try {
      const res = await this.send(await this.options(method, `${path}${query}`, headers, o.timeoutMs ?? 30_000), body);
      status = res.statusCode ?? 0;
      const text = await readAll(res);
      if (status >= 400) throw apiError(method, path, status, text);
      return (text ? JSON.parse(text) : {}) as T;
    } finally {
      this.observe(method, status, (performance.now() - t0) / 1000);
    }
  }

  get<T extends KubeObject>(r: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('GET', resourcePath(r, namespace, name));
  }

  list<T extends KubeObject>(r: ResourceType, namespace?: string, query: Record<string, string | undefined> = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', resourcePath(r, namespace), { query });
  }

  create<T extends KubeObject>(r: ResourceType, obj: T): Promise<T> {
    return this.request<T>('POST', resourcePath(r, obj.metadata.namespace), { body: obj });
  }

  /** Replace with optimistic concurrency (metadata.resourceVersion must be current). */
  replace<T extends KubeObject>(r: ResourceType, obj: T): Promise<T> {
    return this.request<T>('PUT', resourcePath(r, obj.metadata.namespace, obj.metadata.name), { body: obj });
  }

  delete(r: ResourceType, namespace: string | undefined, name: string, propagationPolicy: 'Background' | 'Foreground' = 'Background'): Promise<unknown> {
    return this.request('DELETE', resourcePath(r, namespace, name), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy } });
  }

  /** Server-side apply: the object states every field this manager owns. */
  apply<T extends KubeObject>(r: ResourceType, obj: T, fieldManager: string, force = true, subresource?: string): Promise<T> {
    return this.request<T>('PATCH', resourcePath(r, obj.metadata.namespace, obj.metadata.name, subresource), {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force },
    });
  }

  /** JSON merge patch of an object (e.g. metadata.ownerReferences). */
  mergePatch<T extends KubeObject>(r: ResourceType, namespace: string | undefined, name: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', resourcePath(r, namespace, name), { body: patch, contentType: 'application/merge-patch+json' });
  }

  /**
   * JSON merge patch of the status subresource. With `resourceVersion` the patch applies only if
   * the object is still at that version (409 Conflict otherwise): a compare-and-set.
   */
  patchStatus<T extends KubeObject>(r: ResourceType, namespace: string | undefined, name: string, status: unknown, resourceVersion?: string): Promise<T> {
    return this.request<T>('PATCH', resourcePath(r, namespace, name, 'status'), {
      body: resourceVersion === undefined ? { status } : { metadata: { resourceVersion }, status },
      contentType: 'application/merge-patch+json',
    });
  }

  /** Does the API server serve this group/version (e.g. monitoring.coreos.com/v1)? */
  async serves(group: string, version: string, plural: string): Promise<boolean> {
    try {
      const list = await this.request<{ resources: { name: string }[] }>('GET', `/apis/${group}/${version}`);
      return list.resources.some((res) => res.name === plural);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * A watch from `resourceVersion`: events are passed to `onEvent` as they arrive; resolves when
   * the server ends the stream (normal after timeoutSeconds) and rejects on errors. `abort()` ends it.
   */
  watch<T extends KubeObject>(
    r: ResourceType,
    namespace: string | undefined,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (e: WatchEvent<T>) => void,
  ): { done: Promise<void>; abort: () => void } {
    let abortFn: () => void = () => {};
    let aborted = false;
    const run = async (): Promise<void> => {
      const path = `${resourcePath(r, namespace)}${queryString({ ...query, watch: true, allowWatchBookmarks: true })}`;
      const t0 = performance.now();
      const opts = await this.options('GET', path, {}, 0);
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = (opts.protocol === 'http:' ? httpRequest : httpsRequest)(opts, resolve);
        req.on('error', reject);
        abortFn = () => req.destroy();
        // aborted while the options were being prepared: never open the stream
        if (aborted) req.destroy();
        req.end();
      });
      this.observe('WATCH', res.statusCode ?? 0, (performance.now() - t0) / 1000);
      if ((res.statusCode ?? 0) >= 400) throw apiError('WATCH', path, res.statusCode ?? 0, await readAll(res));
      abortFn = () => res.destroy();
      let buffer = '';
      res.setEncoding('utf8');
      for await (const chunk of res as AsyncIterable<string>) {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
        }
      }
    };
    // An abort ends the stream with "Premature close": that is the caller's wish, not an error.
    const done = run().catch((err: unknown) => {
      if (!aborted) throw err;
    });
    return {
      done,
      abort: () => {
        aborted = true;
        abortFn();
      },
    };
  }
}

function queryString(q: RequestOpts['query']): string {
  if (!q) return '';
  const parts = Object.entries(q)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

function apiError(method: string, path: string, status: number, text: string): KubeApiError {
  let reason = 'Unknown';
  let message = text.slice(0, 500);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? reason;
    message = s.message ?? message;
  } catch {
    // not a Status object: keep the raw text
  }
  return new KubeApiError(status, reason, `${method} ${path}: ${status} ${reason}: ${message}`);
}
