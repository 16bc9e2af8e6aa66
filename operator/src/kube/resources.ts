/** The resource types the operator reads and writes. */
import type { ResourceType } from './api.js';

export const GROUP = 'netflicks.dev';
export const VERSION = 'v1alpha1';

export const RESOURCES = {
  recommenderModel: { group: GROUP, version: VERSION, plural: 'recommendermodels', kind: 'RecommenderModel', namespaced: true },
  trainingRun: { group: GROUP, version: VERSION, plural: 'trainingruns', kind: 'TrainingRun', namespaced: true },
  job: { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  pod: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  service: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  hpa: { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespaced: true },
  pdb: { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true },
  serviceMonitor: { group: 'monitoring.coreos.com', version: 'v1', plural: 'servicemonitors', kind: 'ServiceMonitor', namespaced: true },
  event: { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
} as const satisfies Record<string, ResourceType>;

/** Label on everything the operator creates; informers on children select on it. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'netflicks-operator' } as const;
export const MANAGED_BY_SELECTOR = 'app.kubernetes.io/managed-by=netflicks-operator';
export const FIELD_MANAGER = 'netflicks-operator';
