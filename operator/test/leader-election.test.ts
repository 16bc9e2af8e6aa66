/**
 * Leader election on a real coordination.k8s.io/v1 Lease (test/k8s/cluster.sh apiserver), with
 * short timings: lease 3 s, renew deadline 2 s, retry 0.5 s. Each test uses its own Lease.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '@netflicks/platform';
import { KubeApi, type RequestOpts } from '../src/kube/api.js';
import { LEASE, LeaderElector, type Lease, type LeaderElectionOptions } from '../src/kube/leader-election.js';
import { describeKube, uniqueName, waitFor } from '../../test/support/kube.js';

const TIMING = { leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.5 };
const MAX_RETRY_MS = 500 * (1 + 1.2); // retryPeriod with client-go's jitter factor
const MICROTIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A KubeApi that can be cut off from the apiserver (every request fails), as in a network partition. */
class PartitionableApi extends KubeApi {
  partitioned = false;
  override request<T>(method: string, path: string, o?: RequestOpts): Promise<T> {
    if (this.partitioned) return Promise.reject(new Error('connect ETIMEDOUT (injected partition)'));
    return super.request<T>(method, path, o);
  }
}

function apiFor(kubeconfigPath: string): PartitionableApi {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return new PartitionableApi(kc);
}

/** An elector plus a record of its callbacks. */
interface Candidate {
  id: string;
  api: PartitionableApi;
  elector: LeaderElector;
  run: Promise<void>;
  started: number[];
  stopped: number[];
  newLeaders: string[];
  leaderGauge: boolean[];
  /** Log messages (through the platform's pino logger). */
  messages: string[];
}

await describeKube('LeaderElector (real Lease)', (kube) => {
  const running: Candidate[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.elector.stop()));
  });

  function candidate(leaseName: string, id: string, extra: Partial<LeaderElectionOptions> = {}): Candidate {
    const api = apiFor(kube.kubeconfigPath);
    const c: Omit<Candidate, 'elector' | 'run'> = { id, api, started: [], stopped: [], newLeaders: [], leaderGauge: [], messages: [] };
    const log = createLogger({ component: 'leader-election-test', level: 'info', destination: { write: (line: string) => void c.messages.push((JSON.parse(line) as { msg: string }).msg) } });
    const elector = new LeaderElector({
      api,
      namespace: kube.namespace,
      name: leaseName,
      identity: id,
      ...TIMING,
      log,
      onStartedLeading: () => void c.started.push(Date.now()),
      onStoppedLeading: () => void c.stopped.push(Date.now()),
      onNewLeader: (who) => void c.newLeaders.push(who),
      metrics: { leader: (is) => void c.leaderGauge.push(is) },
      ...extra,
    });
    const full: Candidate = { ...c, elector, run: elector.run() };
    running.push(full);
    return full;
  }

  const getLease = (api: KubeApi, name: string): Promise<Lease> => api.get<Lease>(LEASE, kube.namespace, name);
  const leaders = (cs: Candidate[]): Candidate[] => cs.filter((c) => c.elector.isLeader);

  test('two candidates: exactly one leads, keeps renewing, and the Lease says so', async () => {
    const name = uniqueName('lease');
    const a = candidate(name, 'a');
    const b = candidate(name, 'b');
    await waitFor('a leader', () => leaders([a, b]).length === 1);
    const leader = leaders([a, b])[0];
    const follower = leader === a ? b : a;

    const first = await getLease(leader.api, name);
    expect(first.spec).toMatchObject({ holderIdentity: leader.id, leaseDurationSeconds: 3, leaseTransitions: 0 });
    expect(first.spec?.acquireTime).toMatch(MICROTIME);
    expect(first.spec?.renewTime).toMatch(MICROTIME);

    // Over several lease durations: never two leaders, never a change of leader, and the renewTime advances.
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      expect(leaders([a, b])).toEqual([leader]);
      await new Promise((r) => setTimeout(r, 50));
    }
    const later = await getLease(leader.api, name);
    expect(later.spec?.holderIdentity).toBe(leader.id);
    expect(later.spec?.acquireTime).toBe(first.spec?.acquireTime);
    expect(Date.parse(later.spec?.renewTime ?? '')).toBeGreaterThan(Date.parse(first.spec?.renewTime ?? ''));
    expect(later.spec?.leaseTransitions).toBe(0);
    expect(leader.started).toHaveLength(1);
    expect(follower.started).toHaveLength(0);
    expect(follower.newLeaders).toEqual([leader.id]);
    expect(leader.leaderGauge).toEqual([false, true]);
  });

  test('stop() releases the lease: the follower takes over within a retry period', async () => {
    const name = uniqueName('lease');
    const a = candidate(name, 'a');
    await waitFor('a to lead', () => a.elector.isLeader);
    const b = candidate(name, 'b');
    await waitFor('b to see a as leader', () => b.newLeaders.includes('a'));

    const t0 = Date.now();
    await a.elector.stop();
    expect(a.elector.isLeader).toBe(false);
    expect(a.stopped).toHaveLength(1);
    await a.run; // the loop has ended
    await waitFor('b to lead', () => b.elector.isLeader, 5000, 10);
    const takeover = b.started[0] - t0;
    // Released, so no waiting out the 3 s lease: the next (jittered) retry wins it.
    expect(takeover).toBeLessThan(MAX_RETRY_MS + 500);

    const lease = await getLease(b.api, name);
    expect(lease.spec).toMatchObject({ holderIdentity: 'b', leaseDurationSeconds: 3, leaseTransitions: 1 });
    expect(Date.parse(lease.spec?.acquireTime ?? '')).toBeGreaterThanOrEqual(t0 - 5);
    expect(a.started).toHaveLength(1);
    expect(b.newLeaders).toEqual(['a', 'b']);
  });

  test('a leader that dies without releasing is replaced only after the lease expires', async () => {
    const name = uniqueName('lease');
    const a = candidate(name, 'a');
    await waitFor('a to lead', () => a.elector.isLeader);
    const b = candidate(name, 'b');
    await waitFor('b to see a as leader', () => b.newLeaders.includes('a'));

    const killedAt = Date.now();
    await a.elector.stop({ release: false }); // a crash: the loop ends, the lease still names a
    const abandoned = await getLease(b.api, name);
    expect(abandoned.spec?.holderIdentity).toBe('a');
    const lastRenew = Date.parse(abandoned.spec?.renewTime ?? '');

    await waitFor('b to lead', () => b.elector.isLeader, 10_000, 10);
    const tookOver = b.started[0];
    // Not before the lease ran out (3 s after a's last renewal as b observed it)...
    expect(tookOver - lastRenew).toBeGreaterThanOrEqual(3000);
    // ...and not much later: observing a's last renewal and the attempt after expiry cost at most a retry each.
    expect(tookOver - killedAt).toBeLessThan(3000 + 2 * MAX_RETRY_MS + 1000);

    const lease = await getLease(b.api, name);
    expect(lease.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  test('a leader cut off from the apiserver steps down after renewDeadline, before anyone can take over', async () => {
    const name = uniqueName('lease');
    const a = candidate(name, 'a');
    await waitFor('a to lead', () => a.elector.isLeader);
    const b = candidate(name, 'b');
    await waitFor('b to see a as leader', () => b.newLeaders.includes('a'));

    const cutAt = Date.now();
    a.api.partitioned = true;
    await waitFor('a to step down', () => !a.elector.isLeader, 5000, 10);
    expect(a.messages).toEqual(expect.arrayContaining(['Lease renewal failed', 'Stopped leading']));
    const steppedDown = a.stopped[0];
    expect(steppedDown - cutAt).toBeLessThan(2000 + 300); // within renewDeadline of its last renewal
    await waitFor('b to lead', () => b.elector.isLeader, 10_000, 10);
    expect(b.started[0]).toBeGreaterThan(steppedDown); // never two leaders at once
    expect(b.started[0] - cutAt).toBeGreaterThanOrEqual(3000 - MAX_RETRY_MS); // b waited for the lease to expire

    // Healed, a campaigns again as a follower and does not disturb b.
    a.api.partitioned = false;
    await waitFor('a to see b as leader', () => a.newLeaders.includes('b'));
    expect(a.elector.isLeader).toBe(false);
    expect((await getLease(b.api, name)).spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  test('expiry is judged by the local observation time, so a skewed clock cannot steal a live lease', async () => {
    const name = uniqueName('lease');
    const a = candidate(name, 'a');
    await waitFor('a to lead', () => a.elector.isLeader);
    // b's clock runs an hour ahead: by a's renewTime alone the lease would look long expired.
    const b = candidate(name, 'b', { now: () => Date.now() + 3_600_000 });
    await waitFor('b to see a as leader', () => b.newLeaders.includes('a'));
    const until = Date.now() + 4000; // more than a lease duration
    while (Date.now() < until) {
      expect(b.elector.isLeader).toBe(false);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(a.elector.isLeader).toBe(true);
    expect((await getLease(a.api, name)).spec?.holderIdentity).toBe('a');
  });

  test('rejects timings that would allow two leaders', () => {
    const api = apiFor(kube.kubeconfigPath);
    const base = { api, namespace: 'x', name: 'l', identity: 'i', onStartedLeading: () => {}, onStoppedLeading: () => {} };
    expect(() => new LeaderElector({ ...base, leaseDurationSeconds: 2, renewDeadlineSeconds: 2 })).toThrow(/leaseDurationSeconds/);
    expect(() => new LeaderElector({ ...base, renewDeadlineSeconds: 1, retryPeriodSeconds: 1 })).toThrow(/renewDeadlineSeconds/);
  });
});
