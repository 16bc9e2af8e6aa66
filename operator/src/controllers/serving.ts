/**
 * The recommend-API children of a RecommenderModel: a Deployment pinned to the live model version
 * (promotion = a rolling update gated by readiness, which means "model loaded"), a Service (the
 * load-balanced endpoint), a HorizontalPodAutoscaler, a PodDisruptionBudget and, when the
 * Prometheus operator is installed, a ServiceMonitor.
 */
import { DEFAULT_RECOMMEND_API_PORT, RECOMMEND_API_ENV } from '@netflicks/contracts';
import type { KubeObject } from '../kube/api.js';
import { MANAGED_BY } from '../kube/resources.js';
import { containerSecurity, podSecurity } from './pod-security.js';
import type { RecommenderModel } from '../types.js';
import { ownerRef } from './training-job.js';

export const API_CONTAINER = 'api';
export const MODEL_VERSION_ANNOTATION = 'netflicks.dev/model-version';

export function servingName(model: RecommenderModel): string {
  return `${model.metadata.name}-api`.slice(0, 63).replace(/-+$/, '');
}

/** How long a terminating API pod keeps serving before it is sent SIGTERM (within its 30 s grace). */
const PRE_STOP_SECONDS = 5;

export function servingSelector(model: RecommenderModel): Record<string, string> {
  return { 'app.kubernetes.io/name': 'netflicks-recommend-api', 'app.kubernetes.io/instance': model.metadata.name };
}

function meta(model: RecommenderModel, name = servingName(model)): KubeObject['metadata'] {
  return {
    name,
    namespace: model.metadata.namespace,
    labels: { ...MANAGED_BY, ...servingSelector(model), 'app.kubernetes.io/component': 'recommend-api', 'netflicks.dev/model': model.metadata.name },
    ownerReferences: [ownerRef(model)],
  };
}

export function endpointOf(model: RecommenderModel): string {
  return `http://${servingName(model)}.${model.metadata.namespace ?? 'default'}.svc:80`;
}

/** An API container variable: a plain value, or a key of a Secret in the model's namespace. */
export type ServingEnvValue = string | { secretKeyRef: { name: string; key: string } };

/** `env`: extra variables for the API container (KAFKA_BROKERS, the API settings, API_KEYS from a Secret). */
export function deployment(model: RecommenderModel, liveVersion: number, env: Record<string, ServingEnvValue> = {}): KubeObject {
  const s = model.spec.serving ?? {};
  const port = s.port ?? DEFAULT_RECOMMEND_API_PORT;
  const secret = model.spec.database.secretRef;
  const labels = { ...servingSelector(model), 'app.kubernetes.io/component': 'recommend-api', ...MANAGED_BY };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(model),
    spec: {
      // replicas is left to the HorizontalPodAutoscaler (SSA: this manager never owns the field).
      selector: { matchLabels: servingSelector(model) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels, annotations: { [MODEL_VERSION_ANNOTATION]: String(liveVersion) } },
        spec: {
          ...podSecurity(),
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: API_CONTAINER,
              image: s.image ?? model.spec.image ?? 'netflicks:latest',
              imagePullPolicy: model.spec.imagePullPolicy ?? 'IfNotPresent',
              args: ['serve'],
              env: [
                { name: RECOMMEND_API_ENV.modelName, value: model.metadata.name },
                { name: RECOMMEND_API_ENV.modelVersion, value: String(liveVersion) },
                { name: RECOMMEND_API_ENV.port, value: String(port) },
                { name: RECOMMEND_API_ENV.databaseUrl, valueFrom: { secretKeyRef: { name: secret.name, key: secret.key ?? 'url' } } },
                ...Object.entries(env).map(([name, value]) => (typeof value === 'string' ? { name, value } : { name, valueFrom: value })),
              ],
              ports: [
                { name: 'http', containerPort: port, protocol: 'TCP' },
                // /metrics on its own port (no credentials there) when the API requires them.
                ...(typeof env[RECOMMEND_API_ENV.metricsPort] === 'string' ? [{ name: 'metrics', containerPort: Number(env[RECOMMEND_API_ENV.metricsPort]), protocol: 'TCP' }] : []),
              ],
              // Ready only once the pinned model is loaded: a promotion rolls pods without a gap.
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 2, failureThreshold: 2 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
              startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 60 },
              // A terminating pod stays in Service endpoints until every kube-proxy has synced: keep
              // serving that long before SIGTERM closes the listener, or requests routed to it fail.
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
              ...(s.resources ? { resources: s.resources } : { resources: { requests: { cpu: '250m', memory: '512Mi' } } }),
              ...containerSecurity(),
            },
          ],
        },
      },
    },
  };
}

export function service(model: RecommenderModel): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(model),
    spec: { type: 'ClusterIP', selector: servingSelector(model), ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
  };
}

export function autoscaler(model: RecommenderModel): KubeObject {
  const s = model.spec.serving ?? {};
  // CPU only: a Pods metric would need a custom-metrics adapter the platform does not ship.
  const metric = { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: s.targetCPUUtilizationPercentage ?? 70 } } };
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(model),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: servingName(model) },
      minReplicas: s.minReplicas ?? 2,
      maxReplicas: s.maxReplicas ?? 5,
      metrics: [metric],
    },
  };
}

export function disruptionBudget(model: RecommenderModel): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(model),
    spec: { maxUnavailable: 1, selector: { matchLabels: servingSelector(model) } },
  };
}

/** `labels`: what the Prometheus selects monitors by (kube-prometheus-stack: `release`). */
export function serviceMonitor(model: RecommenderModel, labels: Record<string, string> = {}): KubeObject {
  const m = meta(model);
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { ...m, labels: { ...labels, ...m.labels } },
    spec: { selector: { matchLabels: servingSelector(model) }, endpoints: [{ port: 'http', path: '/metrics', interval: '15s' }] },
  };
}
