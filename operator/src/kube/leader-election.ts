/**
 * Leader election on a coordination.k8s.io/v1 Lease, following client-go's tools/leaderelection
 * (there is no equivalent in @kubernetes/client-node):
 *
 * - One Lease names the leader (spec.holderIdentity). A candidate takes it when it is free
 *   (holderIdentity "") or expired, by a PUT carrying the resourceVersion it read: optimistic
 *   concurrency, so of two candidates racing for it one gets 409 Conflict and stays a follower.
 * - Expiry is judged by *this* process's clock: when it last saw the lease record change
 *   (observedTime) plus leaseDurationSeconds. The remote renewTime is never compared to the local
 *   clock, so clock skew between replicas cannot make a healthy leader look expired.
 * - The leader renews every retryPeriod; if it cannot renew for renewDeadline (< leaseDuration) it
 *   stops leading on its own, before any other candidate can consider the lease expired.
 * - stop() releases the lease (holderIdentity "", leaseDurationSeconds 1: client-go's
 *   ReleaseOnCancel) so a successor takes over on its next retry instead of after a lease duration.
 *
 * As the operator-sdk notes (#784), this is about never running two leaders during rollouts, not
 * about fast failover: a crashed leader is replaced after leaseDuration (+ up to a retry period).
 */
import { isConflict, isNotFound, resourcePath, type KubeApi, type KubeObject, type ResourceType } from './api.js';

export interface LeaderElectionLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface LeaderElectionOptions {
  api: KubeApi;
  namespace: string;
  name: string;
  /** Unique per process (e.g. pod name + random suffix). */
  identity: string;
  /** How long followers wait, from their last observed change of the lease, before taking it over. Default 15. */
  leaseDurationSeconds?: number;
  /** How long the leader keeps trying to renew before it gives up leading. Default 10. */
  renewDeadlineSeconds?: number;
  /** Interval between attempts (renewals, and acquisition attempts with jitter). Default 2. */
  retryPeriodSeconds?: number;
  /** Followers wait retryPeriod·(1 + random·jitterFactor) between attempts (client-go's 1.2). */
  jitterFactor?: number;
  log?: LeaderElectionLog;
  /** Called (not awaited) when this process becomes the leader; a rejection is logged. */
  onStartedLeading(): void | Promise<void>;
  /** Called when this process stops leading: lost renewal, someone else took over, or stop(). stop() awaits it before releasing. */
  onStoppedLeading(): void | Promise<void>;
  /** Called whenever a different holder is observed (this process included). */
  onNewLeader?(identity: string): void;
  metrics?: { leader(isLeader: boolean): void };
  /** Local clock (ms); injectable for tests. */
  now?: () => number;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime: RFC 3339 with microseconds. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [field: string]: unknown;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export const LEASE: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };

const noLog: LeaderElectionLog = { warn: () => {}, info: () => {} };

/** metav1.MicroTime: 2006-01-02T15:04:05.000000Z (JS clocks give ms, so the last 3 digits are 0). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class LeaderElector {
  private readonly api: KubeApi;
  private readonly identity: string;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly jitter: number;
  private readonly log: LeaderElectionLog;
  private readonly now: () => number;
  private readonly path: string;
  private readonly collectionPath: string;

  private leading = false;
  private loop?: Promise<void>;
  private stopping = false;
  private wake?: () => void;
  /** The last lease we read or wrote, and when (local clock) its spec last changed. */
  private observed?: Lease;
  private observedSpec = '';
  private observedTime = 0;
  private reportedLeader = '';

  constructor(private readonly opts: LeaderElectionOptions) {
    this.api = opts.api;
    this.identity = opts.identity;
    this.leaseMs = (opts.leaseDurationSeconds ?? 15) * 1000;
    this.renewDeadlineMs = (opts.renewDeadlineSeconds ?? 10) * 1000;
    this.retryMs = (opts.retryPeriodSeconds ?? 2) * 1000;
    this.jitter = opts.jitterFactor ?? 1.2;
    this.log = opts.log ?? noLog;
    this.now = opts.now ?? Date.now;
    this.path = resourcePath(LEASE, opts.namespace, opts.name);
    this.collectionPath = resourcePath(LEASE, opts.namespace);
    // client-go's checks: a leader must give up (renewDeadline) before followers may take over
    // (leaseDuration), and must get a few attempts in before its deadline.
    if (!opts.identity) throw new Error('leader election: identity is required');
    if (!(this.leaseMs > this.renewDeadlineMs)) throw new Error('leader election: leaseDurationSeconds must be greater than renewDeadlineSeconds');
    if (!(this.retryMs > 0) || !(this.renewDeadlineMs > this.retryMs * Math.max(1, this.jitter))) {
      throw new Error('leader election: renewDeadlineSeconds must be greater than retryPeriodSeconds·jitterFactor');
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns, leads and renews until stop(); after losing the lease it campaigns again. */
  run(): Promise<void> {
    if (this.loop) throw new Error(`leader election ${this.opts.name}: run() called twice`);
    this.stopping = false;
    this.opts.metrics?.leader(false);
    this.loop = this.campaign().finally(() => {
      this.loop = undefined;
    });
    return this.loop;
  }

  /**
   * Ends the loop. By default also releases the lease (if held) so a successor takes over at once;
   * `release: false` leaves it to expire, as a crashed process would.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop; // the attempt in flight finishes first, so no renewal races the release
    if (this.leading) await this.stopLeading('stopped', true);
    if ((opts.release ?? true) && this.observed?.spec?.holderIdentity === this.identity) await this.release();
  }

  private async campaign(): Promise<void> {
    let lastRenew = 0; // local time the last successful write was *sent*: conservative for the deadline
    while (!this.stopping) {
      const started = this.now();
      const deadline = this.leading ? lastRenew + this.renewDeadlineMs : started + this.renewDeadlineMs;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew(deadline);
      } catch (err) {
        this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'Leader election attempt failed');
      }
      if (this.stopping) {
        // Acquired while stop() was waiting: stop() releases it; nothing starts.
        break;
      }
      if (ok) {
        lastRenew = started;
        if (!this.leading) this.startLeading();
      } else if (this.leading) {
        const holder = this.observed?.spec?.holderIdentity ?? '';
        if (holder !== '' && holder !== this.identity) await this.stopLeading(`lease taken over by ${holder}`, false);
        else if (this.now() - lastRenew >= this.renewDeadlineMs) await this.stopLeading('renew deadline exceeded', false);
      }
      const wait = this.leading ? this.retryMs : this.retryMs * (1 + Math.random() * this.jitter);
      await this.sleep(wait);
    }
  }

  private startLeading(): void {
    this.leading = true;
    this.log.info({ lease: this.opts.name, identity: this.identity }, 'Became leader');
    this.opts.metrics?.leader(true);
    try {
      const r = this.opts.onStartedLeading();
      if (r instanceof Promise) r.catch((err: unknown) => this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'onStartedLeading failed'));
    } catch (err) {
      this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'onStartedLeading failed');
    }
  }

  private async stopLeading(reason: string, wait: boolean): Promise<void> {
    this.leading = false;
    this.log.info({ lease: this.opts.name, identity: this.identity, reason }, 'Stopped leading');
    this.opts.metrics?.leader(false);
    try {
      const r = this.opts.onStoppedLeading();
      if (r instanceof Promise) {
        if (wait) await r;
        else r.catch((err: unknown) => this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'onStoppedLeading failed'));
      }
    } catch (err) {
      this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'onStoppedLeading failed');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Request timeouts end at the attempt's deadline: a hung renewal must not outlive renewDeadline. */
  private timeoutFor(deadline: number): number {
    return Math.max(100, deadline - this.now());
  }

  /** Notes a read or written lease; observedTime moves only when the record really changed. */
  private observe(lease: Lease): void {
    this.observed = lease;
    const spec = JSON.stringify(lease.spec ?? {});
    if (spec !== this.observedSpec) {
      this.observedSpec = spec;
      this.observedTime = this.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      try {
        this.opts.onNewLeader?.(holder);
      } catch (err) {
        this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'onNewLeader failed');
      }
    }
  }

  private put(lease: Lease, deadline: number): Promise<Lease> {
    return this.api.request<Lease>('PUT', this.path, { body: lease, timeoutMs: this.timeoutFor(deadline) });
  }

  /** client-go's tryAcquireOrRenew: true when this process holds the lease after the call. */
  private async tryAcquireOrRenew(deadline: number): Promise<boolean> {
    const now = microTime(this.now());

    // Fast path for the leader: write over the lease we last saw, no GET. A conflict means it changed under us.
    if (this.leading && this.observed?.spec?.holderIdentity === this.identity) {
      try {
        this.observe(await this.put({ ...this.observed, spec: { ...this.observed.spec, leaseDurationSeconds: this.leaseMs / 1000, renewTime: now } }, deadline));
        return true;
      } catch (err) {
        if (!isConflict(err)) this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'Lease renewal failed');
        if (this.now() >= deadline) return false;
      }
    }

    let current: Lease;
    try {
      current = await this.api.request<Lease>('GET', this.path, { timeoutMs: this.timeoutFor(deadline) });
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'Lease read failed');
        return false;
      }
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: { holderIdentity: this.identity, leaseDurationSeconds: this.leaseMs / 1000, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      };
      try {
        this.observe(await this.api.request<Lease>('POST', this.collectionPath, { body: lease, timeoutMs: this.timeoutFor(deadline) }));
        return true;
      } catch (e) {
        // AlreadyExists: another candidate created it first.
        if (!isConflict(e)) this.log.warn({ lease: this.opts.name, err: errorText(e) }, 'Lease create failed');
        return false;
      }
    }

    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000;
    if (holder !== '' && holder !== this.identity && this.observedTime + durationMs > this.now()) return false; // held, not expired

    const mine = holder === this.identity;
    const transitions = spec.leaseTransitions ?? 0;
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseMs / 1000,
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : now,
        renewTime: now,
        leaseTransitions: mine ? transitions : transitions + 1,
      },
    };
    try {
      this.observe(await this.put(next, deadline));
      if (!mine) this.log.info({ lease: this.opts.name, identity: this.identity, previous: holder || undefined, transitions: transitions + 1 }, 'Acquired lease');
      return true;
    } catch (err) {
      // Conflict: another candidate wrote first and won this round.
      if (!isConflict(err)) this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'Lease update failed');
      return false;
    }
  }

  /** ReleaseOnCancel: hand the lease back (holder "", 1 s duration) so a successor need not wait it out. */
  private async release(): Promise<void> {
    const deadline = this.now() + this.renewDeadlineMs;
    try {
      const current = await this.api.request<Lease>('GET', this.path, { timeoutMs: this.timeoutFor(deadline) });
      if (current.spec?.holderIdentity !== this.identity) return;
      const now = microTime(this.now());
      const released: Lease = {
        ...current,
        spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: current.spec.leaseTransitions ?? 0 },
      };
      this.observe(await this.put(released, deadline));
      this.log.info({ lease: this.opts.name, identity: this.identity }, 'Released lease');
    } catch (err) {
      this.log.warn({ lease: this.opts.name, err: errorText(err) }, 'Lease release failed; successors wait for it to expire');
    }
  }
}
