/**
 * The operator process: informers feed two controllers (TrainingRun, RecommenderModel) through
 * rate-limited work queues; only the leader (a coordination.k8s.io Lease) runs the controllers;
 * /healthz, /readyz and /metrics are served by every replica.
 */
import { RECOMMEND_API_ENV, apiKeysSecretRef, servingSettingsFrom } from '@netflicks/contracts';
import { createPool, migrate, resolveDatabase } from '@netflicks/db';
import { mlflowSettingsFromEnv, type MlflowSettings } from '@netflicks/mlflow';
import { createLogger, createMetricsRegistry, startHealthServer, type HealthServer, type Logger } from '@netflicks/platform';
import type pg from 'pg';
import { ChildApplier } from './controllers/apply.js';
import { RecommenderModelController, type DeploymentObject } from './controllers/recommender-model.js';
import type { ServingEnvValue } from './controllers/serving.js';
import { TrainingRunController, type JobObject, type PodObject } from './controllers/training-run.js';
import { identityOf, watchedNamespaces, type OperatorConfig } from './config.js';
import { KubeApi, type KubeObject } from './kube/api.js';
import { keyOf, runController, splitKey } from './kube/controller.js';
import { eventRecorder } from './kube/events.js';
import { LeaderElector } from './kube/leader-election.js';
import { MANAGED_BY_SELECTOR, RESOURCES } from './kube/resources.js';
import { watchResource, type WatchedResource } from './kube/watched-namespaces.js';
import { WorkQueue } from './kube/workqueue.js';
import { WorkloadPolicy, secretEnvNames } from './policy/workload-policy.js';
import { mirrorAllModels, mirroredRegistry, startMlflowMirror, trainerMlflowEnv } from './mlflow.js';
import { operatorMetrics } from './service-metrics.js';
import { postgresRegistry, type Registry } from './registry.js';
import type { RecommenderModel, TrainingRun } from './types.js';

export interface OperatorHandle {
  readonly identity: string;
  readonly metricsUrl: string;
  isLeader(): boolean;
  /** Stops the controllers, releases the lease, closes the pool and the health server. */
  stop(): Promise<void>;
}

export interface OperatorOptions {
  log?: Logger;
  /** Override the Kubernetes client (tests pass one built from the harness kubeconfig). */
  api?: (observe: (method: string, status: number, seconds: number) => void) => KubeApi;
  /** Override the registry (tests may share a pool). */
  registry?: Registry;
  /** Called when this replica loses the lease (the process should exit and be restarted). */
  onLostLeadership?: () => void;
  /** The controllers' clock (tests move it to reach cron times). */
  now?: () => Date;
  /** Where SERVING_<API setting> variables are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** MLflow mirroring (default: from MLFLOW_TRACKING_URI and friends; null: off). */
  mlflow?: MlflowSettings | null;
}

/** Drops managedFields: they are large and the operator never reads them. */
function slim<T extends KubeObject>(obj: T): T {
  if (obj.metadata && 'managedFields' in obj.metadata) {
    const { managedFields: _drop, ...metadata } = obj.metadata as T['metadata'] & { managedFields?: unknown };
    void _drop;
    return { ...obj, metadata };
  }
  return obj;
}

export async function startOperator(cfg: OperatorConfig, opts: OperatorOptions = {}): Promise<OperatorHandle> {
  const log = opts.log ?? createLogger({ component: 'operator', level: cfg.LOG_LEVEL });
  const identity = identityOf(cfg);
  const registryMetrics = createMetricsRegistry({ prefix: 'netflicks_operator_' });
  const metrics = operatorMetrics(registryMetrics);
  const api = opts.api ? opts.api(metrics.request) : KubeApi.fromEnvironment(metrics.request, cfg.KUBECONFIG);

  let pool: pg.Pool | undefined;
  let stopDb: (() => Promise<void>) | undefined;
  let registry = opts.registry;
  if (!registry) {
    const db = await resolveDatabase({ ...process.env, DATABASE_URL: cfg.DATABASE_URL });
    stopDb = db.stop;
    pool = createPool(db.url, { max: 4, applicationName: `netflicks-operator/${identity}` });
    await migrate(pool, { log: (m) => log.info(m) });
    registry = postgresRegistry(pool);
  }
  const mlflow = opts.mlflow === undefined ? mlflowSettingsFromEnv({ ...process.env, MLFLOW_TRACKING_URI: cfg.MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME: cfg.MLFLOW_EXPERIMENT_NAME }) : opts.mlflow;
  const mirror = mlflow && pool ? startMlflowMirror({ settings: mlflow, pool, log, metrics: registryMetrics }) : undefined;
  if (mirror) registry = mirroredRegistry(registry, mirror);

  const namespaces = watchedNamespaces(cfg);
  const resyncMs = cfg.OPERATOR_RESYNC_SECONDS * 1000;
  const informerLog = { warn: (o: object, m: string) => log.warn(o, m), info: (o: object, m: string) => log.info(o, m) };
  const informer = <T extends KubeObject>(resource: (typeof RESOURCES)[keyof typeof RESOURCES], labelSelector?: string): WatchedResource<T> =>
    watchResource<T>(namespaces, {
      api,
      resource,
      labelSelector,
      resyncMs,
      log: informerLog,
      transform: slim,
      onRestart: (reason) => metrics.informerRestart(resource.plural, reason),
    });
  const runs = informer<TrainingRun>(RESOURCES.trainingRun);
  const models = informer<RecommenderModel>(RESOURCES.recommenderModel);
  const jobs = informer<JobObject>(RESOURCES.job, MANAGED_BY_SELECTOR);
  const pods = informer<PodObject>(RESOURCES.pod, MANAGED_BY_SELECTOR);
  const deployments = informer<DeploymentObject>(RESOURCES.deployment, MANAGED_BY_SELECTOR);

  const runQueue = new WorkQueue({ name: 'trainingrun', metrics: metrics.queue });
  const modelQueue = new WorkQueue({ name: 'recommendermodel', metrics: metrics.queue });
  const applier = new ChildApplier(api);
  const events = eventRecorder(api, 'netflicks.dev/operator', identity, (err) =>
    log.debug({ err: err instanceof Error ? err.message : String(err) }, 'could not write an Event'),
  );
  const serviceMonitors = await api.serves('monitoring.coreos.com', 'v1', 'servicemonitors').catch(() => false);
  const apiKeys = apiKeysSecretRef(cfg.SERVING_API_KEYS_SECRET);
  const servingEnv: Record<string, ServingEnvValue> = {
    ...(cfg.SERVING_KAFKA_BROKERS ? { [RECOMMEND_API_ENV.kafkaBrokers]: cfg.SERVING_KAFKA_BROKERS } : {}),
    ...servingSettingsFrom(opts.env ?? process.env),
    ...(apiKeys ? { [RECOMMEND_API_ENV.apiKeys]: { secretKeyRef: apiKeys } } : {}),
  };
  const trainerEnv = trainerMlflowEnv(cfg);
  const trainerSecretEnv = trainerEnv.filter((e) => 'valueFrom' in e).map((e) => e.name);
  const policy = new WorkloadPolicy(cfg.OPERATOR_ALLOWED_IMAGES, [...secretEnvNames(servingEnv), ...trainerSecretEnv]);
  const trainingRunController = new TrainingRunController({ api, runs, models, jobs, pods, registry, events, log, policy, trainerEnv, now: opts.now });
  const modelController = new RecommenderModelController({ api, models, runs, deployments, registry, events, applier, log, serviceMonitors, serviceMonitorLabels: cfg.OPERATOR_SERVICE_MONITOR_LABELS, servingEnv, policy, now: opts.now });

  // Event routing: each object change enqueues the keys whose reconcile reads it.
  const enqueueModel = (namespace: string | undefined, name: string | undefined): void => {
    if (name) modelQueue.add(keyOf(namespace, name));
  };
  runs.on((event, run) => {
    runQueue.add(keyOf(run.metadata.namespace, run.metadata.name));
    enqueueModel(run.metadata.namespace, run.spec.modelRef.name);
    void event;
  });
  models.on((event, model) => {
    if (event === 'sync') applier.clear();
    enqueueModel(model.metadata.namespace, model.metadata.name);
    // A model change (e.g. its validation policy) matters to its unfinished runs.
    for (const r of runs.list(model.metadata.namespace)) if (r.spec.modelRef.name === model.metadata.name) runQueue.add(keyOf(r.metadata.namespace, r.metadata.name));
  });
  const byRunLabel = (obj: KubeObject): void => {
    const run = obj.metadata.labels?.['netflicks.dev/training-run'];
    if (run) runQueue.add(keyOf(obj.metadata.namespace, run));
  };
  jobs.on((_e, job) => byRunLabel(job));
  pods.on((_e, pod) => byRunLabel(pod));
  deployments.on((_e, dep) => enqueueModel(dep.metadata.namespace, dep.metadata.labels?.['netflicks.dev/model']));

  const informers: WatchedResource<KubeObject>[] = [runs, models, jobs, pods, deployments] as unknown as WatchedResource<KubeObject>[];
  let leading = false;
  let stopping = false;
  let controllersDone: Promise<unknown> | undefined;
  const startControllers = async (): Promise<void> => {
    leading = true;
    metrics.leader(true);
    log.info({ identity }, 'became the leader; starting controllers');
    if (mirror && pool) void mirrorAllModels(mirror, pool, log);
    await Promise.all(informers.map((i) => i.start()));
    controllersDone = Promise.all([
      runController({
        name: 'trainingrun',
        queue: runQueue,
        workers: cfg.OPERATOR_WORKERS,
        log,
        metrics: metrics.controller,
        reconcile: (key) => {
          const { namespace, name } = splitKey(key);
          return trainingRunController.reconcile(namespace ?? 'default', name);
        },
      }),
      runController({
        name: 'recommendermodel',
        queue: modelQueue,
        workers: cfg.OPERATOR_WORKERS,
        log,
        metrics: metrics.controller,
        reconcile: (key) => {
          const { namespace, name } = splitKey(key);
          return modelController.reconcile(namespace ?? 'default', name);
        },
      }),
    ]);
  };
  const stopControllers = (): void => {
    if (!leading) return;
    leading = false;
    metrics.leader(false);
    runQueue.shutDown();
    modelQueue.shutDown();
    for (const i of informers) i.stop();
  };

  let elector: LeaderElector | undefined;
  if (cfg.OPERATOR_LEADER_ELECTION) {
    elector = new LeaderElector({
      api,
      namespace: cfg.OPERATOR_LEASE_NAMESPACE ?? cfg.POD_NAMESPACE ?? 'default',
      name: cfg.OPERATOR_LEASE_NAME,
      identity,
      leaseDurationSeconds: cfg.OPERATOR_LEASE_DURATION_SECONDS,
      renewDeadlineSeconds: cfg.OPERATOR_RENEW_DEADLINE_SECONDS,
      retryPeriodSeconds: cfg.OPERATOR_RETRY_PERIOD_SECONDS,
      log: informerLog,
      onStartedLeading: startControllers,
      // Like client-go: a replica that lost the lease stops reconciling at once. The queues are
      // shut down, so this process must be restarted to lead again (the CLI exits; k8s restarts).
      onStoppedLeading: () => {
        log.warn({ identity }, 'lost the leader lease; stopping controllers');
        stopControllers();
        if (!stopping) opts.onLostLeadership?.();
      },
      onNewLeader: (leader) => log.info({ leader }, 'observed a new leader'),
      metrics: { leader: (l) => metrics.leader(l) },
    });
    void elector.run();
  } else {
    await startControllers();
  }

  const health: HealthServer = await startHealthServer({
    port: cfg.OPERATOR_METRICS_PORT,
    registry: registryMetrics,
    logger: log,
    // A follower is ready (it serves metrics and waits for the lease); a leader once synced.
    readiness: () => ({ ready: !leading || informers.every((i) => i.hasSynced), details: { leader: leading, identity } }),
  });

  return {
    identity,
    metricsUrl: `${health.url}/metrics`,
    isLeader: () => leading,
    async stop() {
      stopping = true;
      health.markShuttingDown();
      stopControllers();
      await controllersDone;
      await mirror?.stop();
      await elector?.stop();
      await health.close();
      await pool?.end();
      await stopDb?.();
    },
  };
}
