/** Operator metrics, named like controller-runtime's so familiar dashboards and alerts work. */
import { counter, gauge, histogram, type Registry } from '@netflicks/platform';
import type { ControllerMetrics } from './kube/controller.js';
import type { WorkQueueMetrics } from './kube/workqueue.js';

export interface OperatorMetrics {
  controller: ControllerMetrics;
  queue: WorkQueueMetrics;
  leader(isLeader: boolean): void;
  request(method: string, status: number, seconds: number): void;
  informerRestart(resource: string, reason: string): void;
}

export function operatorMetrics(registry: Registry): OperatorMetrics {
  const reconcileTotal = counter(registry, { name: 'controller_runtime_reconcile_total', help: 'Reconciles by controller and result.', labelNames: ['controller', 'result'] });
  const reconcileErrors = counter(registry, { name: 'controller_runtime_reconcile_errors_total', help: 'Reconciles that failed.', labelNames: ['controller'] });
  const reconcileTime = histogram(registry, {
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Time per reconcile.',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
  const depth = gauge(registry, { name: 'workqueue_depth', help: 'Keys waiting in the work queue.', labelNames: ['name'] });
  const adds = counter(registry, { name: 'workqueue_adds_total', help: 'Keys added to the work queue.', labelNames: ['name'] });
  const retries = counter(registry, { name: 'workqueue_retries_total', help: 'Rate-limited re-adds (retries).', labelNames: ['name'] });
  const queueLatency = histogram(registry, {
    name: 'workqueue_queue_duration_seconds',
    help: 'Time a key waits in the queue.',
    labelNames: ['name'],
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60],
  });
  const leader = gauge(registry, { name: 'leader_election_master_status', help: '1 when this replica leads.', labelNames: ['name'] });
  const requests = counter(registry, { name: 'rest_client_requests_total', help: 'Kubernetes API requests by method and status code.', labelNames: ['method', 'code'] });
  const requestTime = histogram(registry, {
    name: 'rest_client_request_duration_seconds',
    help: 'Kubernetes API request latency.',
    labelNames: ['method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const restarts = counter(registry, { name: 'netflicks_operator_informer_restarts_total', help: 'Abnormal informer watch restarts.', labelNames: ['resource', 'reason'] });
  return {
    controller: {
      reconciled(controller, result, seconds) {
        reconcileTotal.inc({ controller, result });
        if (result === 'error') reconcileErrors.inc({ controller });
        reconcileTime.observe({ controller }, seconds);
      },
    },
    queue: {
      depth: (name, n) => depth.set({ name }, n),
      add: (name) => adds.inc({ name }),
      retry: (name) => retries.inc({ name }),
      latencySeconds: (name, s) => queueLatency.observe({ name }, s),
    },
    leader: (isLeader) => leader.set({ name: 'netflicks-operator' }, isLeader ? 1 : 0),
    request(method, status, seconds) {
      requests.inc({ method, code: String(status) });
      if (method !== 'WATCH') requestTime.observe({ method }, seconds);
    },
    informerRestart: (resource, reason) => restarts.inc({ resource, reason }),
  };
}
