/**
 * A controller loop: workers take keys from a rate-limited queue and run a level-triggered
 * reconcile; failures are retried with backoff, results requeue after a delay, and every
 * reconcile is measured with controller-runtime's metric names.
 */
import type { Logger } from '@netflicks/platform';
import type { WorkQueue } from './workqueue.js';

export type ReconcileResult = { requeueAfterMs?: number } | void;

export interface ControllerMetrics {
  reconciled(controller: string, result: 'success' | 'error' | 'requeue_after', seconds: number): void;
}

export interface ControllerOptions {
  name: string;
  queue: WorkQueue;
  reconcile: (key: string) => Promise<ReconcileResult>;
  workers?: number;
  log: Logger;
  metrics: ControllerMetrics;
}

export async function runController(opts: ControllerOptions): Promise<void> {
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await opts.queue.get();
      if (key === undefined) return;
      const t0 = performance.now();
      try {
        const result = await opts.reconcile(key);
        const seconds = (performance.now() - t0) / 1000;
        opts.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) {
          opts.queue.addAfter(key, result.requeueAfterMs);
          opts.metrics.reconciled(opts.name, 'requeue_after', seconds);
        } else {
          opts.metrics.reconciled(opts.name, 'success', seconds);
        }
      } catch (err) {
        opts.metrics.reconciled(opts.name, 'error', (performance.now() - t0) / 1000);
        opts.log.warn({ controller: opts.name, key, err: err instanceof Error ? err.message : String(err), retries: opts.queue.numRequeues(key) }, 'reconcile failed; retrying with backoff');
        opts.queue.addRateLimited(key);
      } finally {
        opts.queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.workers ?? 2 }, () => worker()));
}

/** namespace/name keys, as client-go's MetaNamespaceKeyFunc. */
export function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
