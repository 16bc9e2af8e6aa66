/**
 * A list-watch cache (client-go's Reflector + Indexer, reduced to what the operator needs), built
 * to survive the failure modes @kubernetes/client-node's informer is known for:
 *
 * - Silent stalls (client-node #596, #958): a watch whose TCP stream stays open but delivers
 *   nothing. A watchdog restarts the watch when neither an event nor a bookmark arrived for
 *   `watchdogMs` (the API server sends a bookmark about once a minute, so quiet is not normal).
 * - Restart storms (#1933): every abnormal restart waits on an exponential backoff that only
 *   resets once a watch has delivered something, so a failing API server sees a trickle of
 *   requests, not a tight loop.
 * - Missed deletions: after a 410 Gone (our resourceVersion was compacted away) or any error the
 *   informer relists and diffs the result against its cache, emitting add/update/delete, so a
 *   consumer never keeps an object that vanished while it was not watching.
 * - Optional periodic relist (`resyncMs`) that re-emits every object as 'sync': the level-triggered
 *   safety net that makes controllers converge even if some change was missed anyway.
 *
 * The background loop never throws: failures are logged, counted through onRestart, and retried.
 */
import { apiVersionOf, KubeApiError, type KubeApi, type KubeObject, type ResourceType, type WatchEvent } from './api.js';

export interface InformerLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface InformerOptions<T extends KubeObject> {
  api: KubeApi;
  resource: ResourceType;
  /** Watch one namespace; all namespaces when unset (or for cluster-scoped kinds). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Periodic relist that re-emits every object as 'sync'. Off unless set. */
  resyncMs?: number;
  /** Restart the watch when no event or bookmark arrives for this long. Default 5 min; 0 disables. */
  watchdogMs?: number;
  /** Backoff between abnormal restarts. Default 1 s → 60 s, doubling, reset by a watch that delivers. */
  backoff?: { initialMs: number; maxMs: number };
  log?: InformerLog;
  /** Called on every abnormal restart: 'watchdog', 'expired' (410), 'error', 'closed' (server ended an idle watch early), 'list-failed'. */
  onRestart?(reason: string): void;
  /** Server-side watch timeout. Default 300 s. */
  timeoutSeconds?: number;
  /** Page size of lists (limit/continue). Default 500. */
  pageSize?: number;
  /** Applied to every object before it enters the cache (e.g. drop managedFields to save memory). */
  transform?(obj: T): T;
}

export type InformerEvent = 'add' | 'update' | 'delete' | 'sync';
export type InformerHandler<T> = (event: InformerEvent, obj: T, old?: T) => void;

/** How one watch attempt ended. */
type WatchOutcome =
  | { kind: 'closed'; progress: boolean } // the server ended the stream (normal after timeoutSeconds)
  | { kind: 'watchdog' }
  | { kind: 'expired'; error: string }
  | { kind: 'error'; error: string }
  | { kind: 'resync' }
  | { kind: 'stopped' };

interface Status {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

const noLog: InformerLog = { warn: () => {}, info: () => {} };

/** Exponential backoff with a little jitter so many informers don't restart in lockstep. */
class Backoff {
  private attempt = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 60);
    return Math.min(this.maxMs, Math.round(base * (1 + 0.1 * Math.random())));
  }
  reset(): void {
    this.attempt = 0;
  }
}

/** Timers that never keep the process alive on their own: stop() is how an informer ends. */
function timeout(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Informer<T extends KubeObject> {
  private readonly api: KubeApi;
  private readonly resource: ResourceType;
  private readonly namespace?: string;
  private readonly watchdogMs: number;
  private readonly timeoutSeconds: number;
  private readonly pageSize: number;
  private readonly log: InformerLog;
  private readonly backoff: Backoff;
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private rv = '';
  private synced = false;
  private stopped = false;
  private started?: Promise<void>;
  private rejectStart?: (err: Error) => void;
  private resyncDue = false;
  private resyncTimer?: NodeJS.Timeout;
  /** Ends the running watch attempt (or the backoff sleep) early. */
  private interrupt?: (o: WatchOutcome) => void;

  constructor(private readonly opts: InformerOptions<T>) {
    this.api = opts.api;
    this.resource = opts.resource;
    this.namespace = opts.resource.namespaced ? opts.namespace : undefined;
    this.watchdogMs = opts.watchdogMs ?? 300_000;
    this.timeoutSeconds = opts.timeoutSeconds ?? 300;
    this.pageSize = opts.pageSize ?? 500;
    this.log = opts.log ?? noLog;
    const b = opts.backoff ?? { initialMs: 1000, maxMs: 60_000 };
    this.backoff = new Backoff(b.initialMs, b.maxMs);
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** The resourceVersion the cache is at (last list, event or bookmark). */
  get lastResourceVersion(): string {
    return this.rv;
  }

  /** Resolves once the initial list has filled the cache; rejects only if stop() comes first. */
  start(): Promise<void> {
    this.started ??= new Promise<void>((resolve, reject) => {
      if (this.stopped) return reject(new Error(`informer for ${this.describe()} was stopped before start()`));
      this.rejectStart = reject;
      void this.loop(resolve);
    });
    return this.started;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.interrupt?.({ kind: 'stopped' });
    if (!this.synced) this.rejectStart?.(new Error(`informer for ${this.describe()} stopped before its initial list completed`));
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(cacheKey(namespace, name));
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  private describe(): string {
    const where = this.namespace ? ` in ${this.namespace}` : '';
    const sel = this.opts.labelSelector ? ` (${this.opts.labelSelector})` : '';
    return `${this.resource.plural}${where}${sel}`;
  }

  private async loop(onSynced: () => void): Promise<void> {
    let needList = true;
    let delayMs = 0;
    while (!this.stopped) {
      try {
        if (delayMs > 0) await this.sleep(delayMs);
        if (this.stopped) break;
        if (needList) {
          try {
            await this.relist();
          } catch (err) {
            this.log.warn({ resource: this.describe(), err: errorText(err) }, 'Informer list failed; retrying with backoff');
            this.restarted('list-failed');
            delayMs = this.backoff.next();
            continue;
          }
          needList = false;
          if (this.stopped) break;
          if (!this.synced) {
            this.synced = true;
            this.armResync();
            onSynced();
          }
        }
        const outcome = await this.watchOnce();
        delayMs = 0;
        switch (outcome.kind) {
          case 'stopped':
            break;
          case 'resync':
            needList = true;
            break;
          case 'closed':
            // Normal after timeoutSeconds: resume from the last resourceVersion at once. A stream the
            // server closes before anything arrived is not normal: back off, or we would spin (#1933).
            if (!outcome.progress) {
              this.restarted('closed');
              delayMs = this.backoff.next();
            }
            break;
          case 'watchdog':
            // Resume from the last resourceVersion: the server replays what we missed, deletions
            // included; if that version is gone by now, the 410 leads to a relist.
            this.log.warn({ resource: this.describe(), watchdogMs: this.watchdogMs, resourceVersion: this.rv }, 'Informer watch stalled; restarting it');
            this.restarted('watchdog');
            delayMs = this.backoff.next();
            break;
          case 'expired':
            this.log.info({ resource: this.describe(), err: outcome.error }, 'Informer resourceVersion expired; relisting');
            this.restarted('expired');
            needList = true;
            delayMs = this.backoff.next();
            break;
          case 'error':
            this.log.warn({ resource: this.describe(), err: outcome.error }, 'Informer watch failed; relisting with backoff');
            this.restarted('error');
            needList = true;
            delayMs = this.backoff.next();
            break;
        }
      } catch (err) {
        // Defensive: nothing above should throw, but the loop must never die.
        this.log.warn({ resource: this.describe(), err: errorText(err) }, 'Informer loop error; relisting');
        needList = true;
        delayMs = this.backoff.next();
      }
    }
  }

  private restarted(reason: string): void {
    try {
      this.opts.onRestart?.(reason);
    } catch (err) {
      this.log.warn({ resource: this.describe(), err: errorText(err) }, 'Informer onRestart hook threw');
    }
  }

  private armResync(): void {
    const ms = this.opts.resyncMs;
    if (!ms || ms <= 0) return;
    this.resyncTimer = setInterval(() => {
      this.resyncDue = true;
      this.interrupt?.({ kind: 'resync' });
    }, ms);
    this.resyncTimer.unref();
  }

  /** Waits ms, or less if stop() interrupts. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = timeout(() => {
        this.interrupt = undefined;
        resolve();
      }, ms);
      this.interrupt = (o) => {
        // A resync during a backoff sleep does not cut the backoff short; it is served by the relist that follows.
        if (o.kind !== 'stopped') return;
        clearTimeout(t);
        this.interrupt = undefined;
        resolve();
      };
    });
  }

  private normalize(obj: T): T {
    // List items come without apiVersion/kind; fill them so consumers see whole objects.
    const whole = { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(this.resource), kind: obj.kind ?? this.resource.kind } as T;
    return this.opts.transform ? this.opts.transform(whole) : whole;
  }

  private async listAll(): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.api.list<T>(this.resource, this.namespace, {
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        limit: String(this.pageSize),
        continue: cont,
      });
      for (const item of page.items) items.push(this.normalize(item));
      resourceVersion = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont && !this.stopped);
    return { items, resourceVersion };
  }

  /**
   * Lists everything and brings the cache in line: the cache is updated first, then the events go
   * out (so a handler reading the cache sees the new state), deletions included.
   */
  private async relist(): Promise<void> {
    const resync = this.resyncDue;
    this.resyncDue = false;
    const { items, resourceVersion } = await this.listAll();
    if (this.stopped) return;
    const events: [InformerEvent, T, T | undefined][] = [];
    const seen = new Set<string>();
    for (const obj of items) {
      const key = cacheKey(obj.metadata.namespace, obj.metadata.name);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) events.push(['add', obj, undefined]);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion || old.metadata.uid !== obj.metadata.uid) events.push(['update', obj, old]);
      else if (resync) events.push(['sync', obj, old]);
    }
    for (const [key, old] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      events.push(['delete', old, undefined]);
    }
    this.rv = resourceVersion;
    for (const [event, obj, old] of events) this.emit(event, obj, old);
  }

  /** One watch from this.rv; resolves (never rejects) with how it ended. */
  private watchOnce(): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve) => {
      let settled = false;
      let progress = false;
      let dog: NodeJS.Timeout | undefined;
      let abort: () => void = () => {};
      const finish = (o: WatchOutcome): void => {
        if (settled) return;
        settled = true;
        if (dog) clearTimeout(dog);
        this.interrupt = undefined;
        if (o.kind !== 'closed') abort();
        resolve(o);
      };
      const feed = (): void => {
        if (dog) clearTimeout(dog);
        if (this.watchdogMs > 0) dog = timeout(() => finish({ kind: 'watchdog' }), this.watchdogMs);
      };
      this.interrupt = finish;
      if (this.stopped) return finish({ kind: 'stopped' });
      if (this.resyncDue) return finish({ kind: 'resync' });
      feed();
      const w = this.api.watch<T>(
        this.resource,
        this.namespace,
        { resourceVersion: this.rv, labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, timeoutSeconds: this.timeoutSeconds },
        (e) => {
          // Events of an attempt we already gave up on (e.g. after the watchdog) must not touch the cache.
          if (settled) return;
          try {
            if (e.type === 'ERROR') {
              const s = e.object as unknown as Status;
              const error = `${s.code ?? '?'} ${s.reason ?? ''}: ${s.message ?? ''}`;
              return finish(s.code === 410 ? { kind: 'expired', error } : { kind: 'error', error });
            }
            feed();
            if (!progress) {
              // The server is delivering: whatever went wrong before is over.
              progress = true;
              this.backoff.reset();
            }
            this.apply(e);
          } catch (err) {
            finish({ kind: 'error', error: errorText(err) });
          }
        },
      );
      abort = w.abort;
      w.done.then(
        () => finish({ kind: 'closed', progress }),
        (err: unknown) => finish(err instanceof KubeApiError && err.status === 410 ? { kind: 'expired', error: err.message } : { kind: 'error', error: errorText(err) }),
      );
    });
  }

  private apply(e: WatchEvent<T>): void {
    const rv = e.object.metadata?.resourceVersion;
    if (e.type === 'BOOKMARK') {
      if (rv) this.rv = rv;
      return;
    }
    const obj = this.normalize(e.object);
    const key = cacheKey(obj.metadata.namespace, obj.metadata.name);
    const old = this.cache.get(key);
    if (e.type === 'DELETED') {
      this.cache.delete(key);
      if (rv) this.rv = rv;
      // The final state the server sent; handlers get no `old` for deletions (relists have none to give).
      this.emit('delete', obj, undefined);
      return;
    }
    // ADDED or MODIFIED: which one we emit follows the cache (a resumed watch may re-send ADDED).
    this.cache.set(key, obj);
    if (rv) this.rv = rv;
    this.emit(old ? 'update' : 'add', obj, old);
  }

  private emit(event: InformerEvent, obj: T, old: T | undefined): void {
    if (this.stopped) return;
    for (const h of this.handlers) {
      try {
        h(event, obj, old);
      } catch (err) {
        // A consumer bug must not break the cache or the other handlers.
        this.log.warn({ resource: this.describe(), event, name: obj.metadata.name, err: errorText(err) }, 'Informer handler threw');
      }
    }
  }
}

function cacheKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
