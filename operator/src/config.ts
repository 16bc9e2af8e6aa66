/** The operator's configuration from the environment (flags merged in), validated at start-up. */
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, envBool, envInt, envList, envLogLevel, envPort, loadConfig, type EnvSource } from '@netflicks/platform';
import { parseImagePattern } from './policy/image-reference.js';
import { DEFAULT_ALLOWED_IMAGES } from './policy/workload-policy.js';

const namespaceName = z.string().trim().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a namespace name');

export const operatorConfigSchema = z.object({
  /** The registry's database (the same one the trainer Jobs and the API use). Unset: embedded. */
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^postgres(?:ql)?:\/\/\S+$/, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  /** Watch one namespace (the same as OPERATOR_WATCH_NAMESPACES with one name). */
  OPERATOR_NAMESPACE: namespaceName.optional(),
  /** Watch only these namespaces (comma-separated): the namespaced install. Unset: all namespaces. */
  OPERATOR_WATCH_NAMESPACES: envList().pipe(z.array(namespaceName)).optional(),
  /**
   * Image repositories the operator runs for a RecommenderModel (comma-separated; `repo` or
   * `prefix/*`). A model naming another image is refused.
   */
  OPERATOR_ALLOWED_IMAGES: envList()
    .default([...DEFAULT_ALLOWED_IMAGES])
    .superRefine((patterns, ctx) => {
      for (const p of patterns) {
        try {
          parseImagePattern(p);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        }
      }
    }),
  OPERATOR_METRICS_PORT: envPort().default(9102),
  OPERATOR_WORKERS: envInt({ min: 1, max: 64 }).default(4),
  /** Relist everything this often (level-triggered safety net; also re-applies children). */
  OPERATOR_RESYNC_SECONDS: envInt({ min: 10, max: 86_400 }).default(300),
  OPERATOR_LEADER_ELECTION: envBool().default(true),
  OPERATOR_LEASE_NAME: z.string().trim().default('netflicks-operator'),
  /** Where the Lease lives; default: the pod's namespace (POD_NAMESPACE), else "default". */
  OPERATOR_LEASE_NAMESPACE: z.string().trim().optional(),
  OPERATOR_LEASE_DURATION_SECONDS: envInt({ min: 2, max: 600 }).default(15),
  OPERATOR_RENEW_DEADLINE_SECONDS: envInt({ min: 1, max: 600 }).default(10),
  OPERATOR_RETRY_PERIOD_SECONDS: envInt({ min: 1, max: 60 }).default(2),
  /**
   * Labels added to the ServiceMonitors made for recommend-API Services (comma-separated
   * key=value), e.g. `release=kube-prometheus-stack` for a Prometheus that selects by it.
   */
  OPERATOR_SERVICE_MONITOR_LABELS: envList()
    .pipe(z.array(z.string().regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9][-A-Za-z0-9_.]{0,62}=[-A-Za-z0-9_.]{0,63}$/, 'expected key=value (a label)')))
    .transform((pairs) => Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)])))
    .default({}),
  /** Given to the recommend-API pods as KAFKA_BROKERS (recommendation-request events); unset: none. */
  SERVING_KAFKA_BROKERS: z.string().trim().regex(/^[^\s,]+(,[^\s,]+)*$/, 'expected host:port[,host:port…]').optional(),
  /**
   * A Secret (`name` or `name/key`, key default `api-keys`) in each model's namespace whose value
   * the recommend-API pods get as API_KEYS. The other API settings pass as SERVING_<NAME>
   * (RECOMMEND_API_SERVING_SETTINGS), checked by the API at its start.
   */
  SERVING_API_KEYS_SECRET: z
    .string()
    .trim()
    .regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?(\/[-._A-Za-z0-9]+)?$/, 'expected a Secret name, optionally /key')
    .optional(),
  /**
   * MLflow tracking server (http(s) URL): given to trainer Jobs, and the operator mirrors the
   * registry's lifecycle into it. Unset: no MLflow.
   */
  MLFLOW_TRACKING_URI: z.string().trim().regex(/^https?:\/\/\S+$/, 'expected an http(s):// URL').optional(),
  /** One experiment for every model; unset: each model's runs go to an experiment named after it. */
  MLFLOW_EXPERIMENT_NAME: z.string().trim().min(1).optional(),
  /**
   * Secret (in each namespace trainer Jobs run in) with optional keys username, password, token:
   * passed to trainer Jobs as MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN.
   */
  MLFLOW_CREDENTIALS_SECRET: z.string().trim().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected a Secret name').optional(),
  POD_NAME: z.string().trim().optional(),
  POD_NAMESPACE: z.string().trim().optional(),
  /** Outside a cluster: which kubeconfig (default $KUBECONFIG, then ~/.kube/config). */
  KUBECONFIG: z.string().trim().optional(),
  LOG_LEVEL: envLogLevel().default('info'),
});

export type OperatorConfig = z.output<typeof operatorConfigSchema>;

export function loadOperatorConfig(env: EnvSource = process.env): OperatorConfig {
  const cfg = loadConfig(operatorConfigSchema, env);
  if (cfg.OPERATOR_RENEW_DEADLINE_SECONDS >= cfg.OPERATOR_LEASE_DURATION_SECONDS) {
    throw new ConfigError([
      { variable: 'OPERATOR_RENEW_DEADLINE_SECONDS', message: 'must be shorter than OPERATOR_LEASE_DURATION_SECONDS (client-go leader-election rule)' },
    ]);
  }
  if (cfg.OPERATOR_NAMESPACE && cfg.OPERATOR_WATCH_NAMESPACES) {
    throw new ConfigError([{ variable: 'OPERATOR_NAMESPACE', message: 'set OPERATOR_NAMESPACE or OPERATOR_WATCH_NAMESPACES, not both' }]);
  }
  return cfg;
}

/** The namespaces to watch, or undefined for all of them (cluster-wide RBAC needed). */
export function watchedNamespaces(cfg: OperatorConfig): string[] | undefined {
  const list = cfg.OPERATOR_WATCH_NAMESPACES ?? (cfg.OPERATOR_NAMESPACE ? [cfg.OPERATOR_NAMESPACE] : undefined);
  return list ? [...new Set(list)] : undefined;
}

/** This replica's identity in the Lease: the pod name, else host and pid. */
export function identityOf(cfg: OperatorConfig): string {
  return cfg.POD_NAME ?? `${hostname()}-${process.pid}`;
}
