/**
 * Watching a list of namespaces (the namespaced install): one list and watch per namespace,
 * never a cluster-wide one (a Role would forbid it), and one cache over them. A fake KubeApi
 * serves the lists and records the requests; the informer itself is tested against the real API
 * server in informer.test.ts.
 */
import { RESOURCES, watchResource, type KubeObject, type WatchEvent } from '@netflicks/operator';

const cm = (namespace: string, name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace, name, resourceVersion: '1', uid: `${namespace}/${name}` } });

function fakeApi(objects: KubeObject[]) {
  const requests: string[] = [];
  const watchers = new Map<string, (e: WatchEvent<KubeObject>) => void>();
  const api = {
    list: async (_r: unknown, namespace?: string) => {
      requests.push(`list ${namespace ?? '(all)'}`);
      return { items: objects.filter((o) => namespace === undefined || o.metadata.namespace === namespace), metadata: { resourceVersion: '1' } };
    },
    watch: (_r: unknown, namespace: string | undefined, _q: unknown, onEvent: (e: WatchEvent<KubeObject>) => void) => {
      requests.push(`watch ${namespace ?? '(all)'}`);
      watchers.set(namespace ?? '(all)', onEvent);
      let abort: () => void = () => {};
      const done = new Promise<void>((resolve) => (abort = resolve));
      return { done, abort };
    },
  };
  return { api: api as never, requests, watchers };
}

const objects = [cm('team-a', 'x'), cm('team-b', 'y'), cm('other', 'z')];

test('several namespaces: a list and a watch in each, one cache over them, nothing from elsewhere', async () => {
  const { api, requests, watchers } = fakeApi(objects);
  const cache = watchResource<KubeObject>(['team-a', 'team-b'], { api, resource: RESOURCES.pod });
  const seen: string[] = [];
  cache.on((event, o) => seen.push(`${event} ${o.metadata.namespace}/${o.metadata.name}`));
  await cache.start();
  try {
    expect(cache.hasSynced).toBe(true);
    expect(requests.filter((r) => r.startsWith('list')).sort()).toEqual(['list team-a', 'list team-b']);
    expect(cache.list().map((o) => o.metadata.name).sort()).toEqual(['x', 'y']);
    expect(cache.list('team-b').map((o) => o.metadata.name)).toEqual(['y']);
    expect(cache.list('other')).toEqual([]);
    expect(cache.get('team-a', 'x')?.metadata.name).toBe('x');
    expect([cache.get('team-a', 'y'), cache.get('other', 'z'), cache.get(undefined, 'x')]).toEqual([undefined, undefined, undefined]);
    expect(seen.sort()).toEqual(['add team-a/x', 'add team-b/y']);
    // each namespace's watch feeds the one cache
    await new Promise((r) => setTimeout(r, 20));
    expect(requests.filter((r) => r.startsWith('watch')).sort()).toEqual(['watch team-a', 'watch team-b']);
    watchers.get('team-b')?.({ type: 'ADDED', object: { ...cm('team-b', 'w'), metadata: { ...cm('team-b', 'w').metadata, resourceVersion: '2' } } });
    expect(cache.get('team-b', 'w')?.metadata.name).toBe('w');
    expect(cache.list().map((o) => o.metadata.name).sort()).toEqual(['w', 'x', 'y']);
    expect(seen.at(-1)).toBe('add team-b/w');
  } finally {
    cache.stop();
  }
});

test('one namespace or none: a single informer (namespaced, or cluster-wide)', async () => {
  for (const [namespaces, expected] of [[['team-a'], ['list team-a']], [undefined, ['list (all)']]] as const) {
    const { api, requests } = fakeApi(objects);
    const cache = watchResource<KubeObject>(namespaces, { api, resource: RESOURCES.pod });
    await cache.start();
    cache.stop();
    expect(requests.filter((r) => r.startsWith('list'))).toEqual(expected);
  }
});
