/**
 * Informer against the real test apiserver (test/k8s/cluster.sh): ConfigMaps in a fresh namespace
 * per test. Faults the apiserver won't produce on demand (a stalled stream, a dropped connection,
 * a 410, an outage) are injected by FaultyApi, a KubeApi whose list/watch go to the real server
 * but can be stalled, broken or failed from the test; everything the informer recovers comes from
 * the real server.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '@netflicks/platform';
import { KubeApi, KubeApiError, type KubeList, type KubeObject, type ResourceType, type WatchEvent } from '../src/kube/api.js';
import { Informer, type InformerEvent } from '../src/kube/informer.js';
import { describeKube, waitFor } from '../../test/support/kube.js';

const CM: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

interface Seen {
  event: InformerEvent;
  name: string;
  x?: string;
  oldX?: string;
}

interface WatchControl {
  /** Drop everything the server sends from now on, as a stalled TCP stream would. */
  stall(): void;
  /** End the stream as the server does after timeoutSeconds. */
  close(): void;
  /** Fail the stream as a reset connection would. */
  fail(err: Error): void;
  /** Deliver a synthetic event (e.g. the ERROR/410 Status the apiserver sends for a compacted resourceVersion). */
  inject(e: WatchEvent<KubeObject>): void;
}

/** Real list/watch with switches for the faults under test. */
class FaultyApi extends KubeApi {
  readonly listCalls: number[] = [];
  watchCalls = 0;
  failLists = false;
  current?: WatchControl;

  override list<T extends KubeObject>(r: ResourceType, namespace?: string, query: Record<string, string | undefined> = {}): Promise<KubeList<T>> {
    this.listCalls.push(Date.now());
    if (this.failLists) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1 (injected)'));
    return super.list<T>(r, namespace, query);
  }

  override watch<T extends KubeObject>(
    r: ResourceType,
    namespace: string | undefined,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (e: WatchEvent<T>) => void,
  ): { done: Promise<void>; abort: () => void } {
    this.watchCalls++;
    let stalled = false;
    let end!: () => void;
    let fail!: (err: Error) => void;
    const forced = new Promise<void>((resolve, reject) => {
      end = resolve;
      fail = reject;
    });
    const inner = super.watch<T>(r, namespace, query, (e) => {
      if (!stalled) onEvent(e);
    });
    this.current = {
      stall: () => {
        stalled = true;
      },
      close: () => {
        inner.abort();
        end();
      },
      fail: (err) => {
        inner.abort();
        fail(err);
      },
      inject: (e) => onEvent(e as WatchEvent<T>),
    };
    return { done: Promise.race([inner.done, forced]), abort: inner.abort };
  }
}

function apiFor(kubeconfigPath: string): FaultyApi {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return new FaultyApi(kc);
}

const cm = (namespace: string, name: string, x: string, labels?: Record<string, string>): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, labels },
  data: { x },
});

/** Records what the informer emitted, ignoring the kube-root-ca.crt that kube-controller-manager adds to every namespace. */
function record(informer: Informer<ConfigMap>): Seen[] {
  const seen: Seen[] = [];
  informer.on((event, obj, old) => {
    if (obj.metadata.name === 'kube-root-ca.crt') return;
    seen.push({ event, name: obj.metadata.name, x: obj.data?.x, ...(old ? { oldX: old.data?.x } : {}) });
  });
  return seen;
}

const names = (informer: Informer<ConfigMap>, ns: string): string[] =>
  informer
    .list(ns)
    .map((o) => o.metadata.name)
    .filter((n) => n !== 'kube-root-ca.crt')
    .sort();

const has = (seen: Seen[], e: Partial<Seen>): boolean => seen.some((s) => Object.entries(e).every(([k, v]) => s[k as keyof Seen] === v));

await describeKube('Informer (real apiserver)', (kube) => {
  const informers: Informer<ConfigMap>[] = [];
  const track = (i: Informer<ConfigMap>): Informer<ConfigMap> => {
    informers.push(i);
    return i;
  };
  afterEach(() => {
    for (const i of informers.splice(0)) i.stop();
  });

  test('initial list fills the cache; add, update and delete arrive as events and keep the cache right', async () => {
    const ns = kube.namespace;
    const api = apiFor(kube.kubeconfigPath);
    await api.create(CM, cm(ns, 'pre-1', '1'));
    await api.create(CM, cm(ns, 'pre-2', '1'));

    const informer = track(new Informer<ConfigMap>({ api, resource: CM, namespace: ns, pageSize: 1 }));
    const seen = record(informer);
    informer.on(() => {
      throw new Error('a broken handler must not affect the others');
    });
    expect(informer.hasSynced).toBe(false);
    await informer.start();
    expect(informer.hasSynced).toBe(true);
    // pageSize 1: the initial list took several pages (limit/continue).
    expect(api.listCalls.length).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(expect.arrayContaining([{ event: 'add', name: 'pre-1', x: '1' }, { event: 'add', name: 'pre-2', x: '1' }]));
    expect(names(informer, ns)).toEqual(['pre-1', 'pre-2']);
    const cached = informer.get(ns, 'pre-1');
    expect(cached).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pre-1', namespace: ns }, data: { x: '1' } });
    expect(informer.get(ns, 'nope')).toBeUndefined();
    expect(informer.get('other-namespace', 'pre-1')).toBeUndefined();
    expect(informer.list('other-namespace')).toEqual([]);

    await kube.ok(['-n', ns, 'create', 'configmap', 'new-1', '--from-literal=x=1']);
    await waitFor('add of new-1', () => has(seen, { event: 'add', name: 'new-1' }));
    expect(informer.get(ns, 'new-1')?.data).toEqual({ x: '1' });

    await kube.ok(['-n', ns, 'patch', 'configmap', 'pre-1', '--type=merge', '-p', '{"data":{"x":"2"}}']);
    await waitFor('update of pre-1', () => has(seen, { event: 'update', name: 'pre-1' }));
    expect(seen.find((s) => s.event === 'update')).toEqual({ event: 'update', name: 'pre-1', x: '2', oldX: '1' });
    expect(informer.get(ns, 'pre-1')?.data?.x).toBe('2');

    await kube.ok(['-n', ns, 'delete', 'configmap', 'pre-2']);
    await waitFor('delete of pre-2', () => has(seen, { event: 'delete', name: 'pre-2' }));
    expect(informer.get(ns, 'pre-2')).toBeUndefined();
    expect(names(informer, ns)).toEqual(['new-1', 'pre-1']);
    expect(seen.filter((s) => s.event === 'delete')).toEqual([{ event: 'delete', name: 'pre-2', x: '1' }]);
  });

  test('a label selector limits list, watch and cache; relabelling in and out emits add and delete', async () => {
    const ns = await kube.uniqueNamespace('inf-sel');
    const api = apiFor(kube.kubeconfigPath);
    await api.create(CM, cm(ns, 'a', '1', { app: 'wanted' }));
    await api.create(CM, cm(ns, 'b', '1', { app: 'other' }));

    const informer = track(new Informer<ConfigMap>({ api, resource: CM, namespace: ns, labelSelector: 'app=wanted' }));
    const seen = record(informer);
    await informer.start();
    expect(seen).toEqual([{ event: 'add', name: 'a', x: '1' }]);
    expect(names(informer, ns)).toEqual(['a']);

    // d does not match; e does. Watch events come in resourceVersion order, so once e is seen,
    // d would have been seen before it if it had been delivered.
    await api.create(CM, cm(ns, 'd', '1', { app: 'other' }));
    await api.create(CM, cm(ns, 'e', '1', { app: 'wanted' }));
    await waitFor('add of e', () => has(seen, { event: 'add', name: 'e' }));
    expect(has(seen, { name: 'd' })).toBe(false);

    await kube.ok(['-n', ns, 'label', 'configmap', 'a', 'app=other', '--overwrite']);
    await waitFor('a to leave the selection', () => has(seen, { event: 'delete', name: 'a' }));
    await kube.ok(['-n', ns, 'label', 'configmap', 'b', 'app=wanted', '--overwrite']);
    await waitFor('b to enter the selection', () => has(seen, { event: 'add', name: 'b' }));
    expect(names(informer, ns)).toEqual(['b', 'e']);
    expect(informer.get(ns, 'b')?.metadata.labels).toEqual({ app: 'wanted' });
  });

  test('a stalled watch is restarted by the watchdog and catches up on what it missed, deletions included', async () => {
    const ns = await kube.uniqueNamespace('inf-stall');
    const api = apiFor(kube.kubeconfigPath);
    await api.create(CM, cm(ns, 's-1', '1'));
    await api.create(CM, cm(ns, 's-2', '1'));
    const restarts: string[] = [];
    const lines: { level: string; msg: string; watchdogMs?: number }[] = [];
    const log = createLogger({ component: 'informer-test', level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    const informer = track(
      new Informer<ConfigMap>({ api, resource: CM, namespace: ns, watchdogMs: 2000, backoff: { initialMs: 200, maxMs: 2000 }, log, onRestart: (r) => restarts.push(r) }),
    );
    const seen = record(informer);
    await informer.start();
    const afterSync = seen.length;

    api.current?.stall();
    await api.create(CM, cm(ns, 's-3', '1'));
    await kube.ok(['-n', ns, 'patch', 'configmap', 's-1', '--type=merge', '-p', '{"data":{"x":"2"}}']);
    await kube.ok(['-n', ns, 'delete', 'configmap', 's-2']);
    expect(seen.length).toBe(afterSync); // nothing got through the stalled stream
    expect(restarts).toEqual([]);

    await waitFor('the watchdog restart to catch up', () => has(seen, { event: 'delete', name: 's-2' }) && has(seen, { event: 'add', name: 's-3' }) && has(seen, { event: 'update', name: 's-1', x: '2' }));
    // One restart, by the watchdog; it resumed from the last resourceVersion (a new watch, no relist).
    expect(restarts).toEqual(['watchdog']);
    expect(api.watchCalls).toBe(2);
    expect(api.listCalls).toHaveLength(1);
    expect(seen.slice(afterSync)).toEqual([
      { event: 'add', name: 's-3', x: '1' },
      { event: 'update', name: 's-1', x: '2', oldX: '1' },
      { event: 'delete', name: 's-2', x: '1' },
    ]);
    expect(names(informer, ns)).toEqual(['s-1', 's-3']);
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', msg: 'Informer watch stalled; restarting it', watchdogMs: 2000 })]);
  });

  test('a watch the server ends normally is resumed at once from the last resourceVersion, without a relist', async () => {
    const ns = await kube.uniqueNamespace('inf-close');
    const api = apiFor(kube.kubeconfigPath);
    const restarts: string[] = [];
    const informer = track(new Informer<ConfigMap>({ api, resource: CM, namespace: ns, onRestart: (r) => restarts.push(r) }));
    const seen = record(informer);
    await informer.start();
    await api.create(CM, cm(ns, 'c-1', '1'));
    await waitFor('add of c-1', () => has(seen, { event: 'add', name: 'c-1' }));

    api.current?.stall();
    await api.create(CM, cm(ns, 'c-2', '1'));
    await api.delete(CM, ns, 'c-1');
    api.current?.close();

    await waitFor('catch-up after the close', () => has(seen, { event: 'delete', name: 'c-1' }) && has(seen, { event: 'add', name: 'c-2' }));
    expect(restarts).toEqual([]); // a normal end after progress is not an abnormal restart
    expect(api.listCalls).toHaveLength(1);
    expect(api.watchCalls).toBe(2);
    expect(names(informer, ns)).toEqual(['c-2']);
  });

  test('after a watch error and an outage the informer relists with backoff and emits the differences', async () => {
    const ns = await kube.uniqueNamespace('inf-outage');
    const api = apiFor(kube.kubeconfigPath);
    await api.create(CM, cm(ns, 'o-1', '1'));
    await api.create(CM, cm(ns, 'o-2', '1'));
    const restarts: string[] = [];
    const informer = track(new Informer<ConfigMap>({ api, resource: CM, namespace: ns, backoff: { initialMs: 100, maxMs: 5000 }, onRestart: (r) => restarts.push(r) }));
    const seen = record(informer);
    await informer.start();
    const afterSync = seen.length;

    // The stream goes silent, things change, then the connection drops and the API is unreachable.
    api.current?.stall();
    await api.create(CM, cm(ns, 'o-3', '1'));
    await kube.ok(['-n', ns, 'patch', 'configmap', 'o-1', '--type=merge', '-p', '{"data":{"x":"2"}}']);
    await kube.ok(['-n', ns, 'delete', 'configmap', 'o-2']);
    api.failLists = true;
    api.current?.fail(new Error('read ECONNRESET (injected)'));

    await waitFor('three failed relists', () => api.listCalls.length >= 4, 10_000, 20);
    api.failLists = false;
    await waitFor('the relist to emit the differences', () => has(seen, { event: 'delete', name: 'o-2' }) && has(seen, { event: 'add', name: 'o-3' }), 10_000, 20);

    expect(seen.slice(afterSync)).toEqual(
      expect.arrayContaining([
        { event: 'add', name: 'o-3', x: '1' },
        { event: 'update', name: 'o-1', x: '2', oldX: '1' },
        { event: 'delete', name: 'o-2', x: '1' },
      ]),
    );
    expect(seen.length - afterSync).toBe(3); // each difference once, nothing re-emitted
    expect(names(informer, ns)).toEqual(['o-1', 'o-3']);
    expect(restarts.slice(0, 4)).toEqual(['error', 'list-failed', 'list-failed', 'list-failed']);
    // Backed off: the gaps between attempts grow (100 → 200 → 400 ms, ±10 % jitter), no tight loop.
    const gaps = api.listCalls.slice(1).map((t, i) => t - api.listCalls[i]);
    expect(gaps[1]).toBeGreaterThanOrEqual(180);
    expect(gaps[2]).toBeGreaterThan(gaps[1] * 1.5);
    expect(gaps[3]).toBeGreaterThan(gaps[2] * 1.5);

    // And it is watching again.
    await api.create(CM, cm(ns, 'o-4', '1'));
    await waitFor('add of o-4', () => has(seen, { event: 'add', name: 'o-4' }));
  });

  test('410 Expired (as an ERROR event or as the HTTP status) leads to a relist that finds the deletion', async () => {
    const ns = await kube.uniqueNamespace('inf-gone');
    const api = apiFor(kube.kubeconfigPath);
    await api.create(CM, cm(ns, 'g-1', '1'));
    await api.create(CM, cm(ns, 'g-2', '1'));
    const restarts: string[] = [];
    const informer = track(new Informer<ConfigMap>({ api, resource: CM, namespace: ns, backoff: { initialMs: 50, maxMs: 500 }, onRestart: (r) => restarts.push(r) }));
    const seen = record(informer);
    await informer.start();

    api.current?.stall();
    await api.delete(CM, ns, 'g-1');
    // What the apiserver sends when the resourceVersion was compacted away.
    api.current?.inject({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version', metadata: { name: '' } } });
    await waitFor('delete of g-1 from the relist', () => has(seen, { event: 'delete', name: 'g-1' }));
    expect(restarts).toEqual(['expired']);
    expect(api.listCalls).toHaveLength(2);

    api.current?.stall();
    await api.delete(CM, ns, 'g-2');
    api.current?.fail(new KubeApiError(410, 'Gone', 'WATCH: 410 Gone (injected)')); // how KubeApi.watch reports an HTTP 410
    await waitFor('delete of g-2 from the relist', () => has(seen, { event: 'delete', name: 'g-2' }));
    expect(restarts).toEqual(['expired', 'expired']);
    expect(api.listCalls).toHaveLength(3);
    expect(names(informer, ns)).toEqual([]);
  });

  test('resyncMs relists periodically and re-emits unchanged objects as sync', async () => {
    const ns = await kube.uniqueNamespace('inf-resync');
    const api = apiFor(kube.kubeconfigPath);
    await api.create(CM, cm(ns, 'r-1', '1'));
    const restarts: string[] = [];
    const informer = track(new Informer<ConfigMap>({ api, resource: CM, namespace: ns, resyncMs: 500, onRestart: (r) => restarts.push(r) }));
    const seen = record(informer);
    await informer.start();
    await waitFor('two syncs of r-1', () => seen.filter((s) => s.event === 'sync' && s.name === 'r-1').length >= 2);
    expect(api.listCalls.length).toBeGreaterThanOrEqual(3);
    expect(restarts).toEqual([]); // a resync is routine, not a restart
    // Still watching between resyncs.
    await api.create(CM, cm(ns, 'r-2', '1'));
    await waitFor('add of r-2', () => has(seen, { event: 'add', name: 'r-2' }));
    expect(seen.filter((s) => s.name === 'r-2' && s.event === 'add')).toHaveLength(1);
  });

  test('stop() before the initial list completes rejects start()', async () => {
    const api = apiFor(kube.kubeconfigPath);
    api.failLists = true;
    const informer = new Informer<ConfigMap>({ api, resource: CM, namespace: kube.namespace, backoff: { initialMs: 50, maxMs: 100 } });
    const started = informer.start();
    await waitFor('a failed list', () => api.listCalls.length >= 2);
    informer.stop();
    await expect(started).rejects.toThrow(/stopped before its initial list/);
    expect(informer.hasSynced).toBe(false);
  });
});
