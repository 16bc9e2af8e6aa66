/**
 * `netflicks operator`: the Kubernetes operator (in-cluster config in a pod, else $KUBECONFIG).
 * Runs until SIGTERM/SIGINT, then releases its lease so another replica takes over at once.
 */
import { Command } from 'commander';
import { ReportedFailure } from '../errors.js';
import { inputFile, integer } from '../flags.js';

interface OperatorFlags {
  namespace?: string;
  metricsPort?: number;
  leaderElection?: boolean;
  kubeconfig?: string;
  databaseUrl?: string;
}

export function registerOperator(program: Command): void {
  program
    .command('operator')
    .description('run the Kubernetes operator: reconciles RecommenderModel and TrainingRun resources (see operator/README.md)')
    .option('--namespace <ns>', 'watch one namespace ($OPERATOR_NAMESPACE; default: all)')
    .option('--metrics-port <port>', '/healthz, /readyz and /metrics ($OPERATOR_METRICS_PORT, default 9102)', integer)
    .option('--no-leader-election', 'reconcile without a Lease ($OPERATOR_LEADER_ELECTION=false; one replica only)')
    .option('--kubeconfig <file>', 'outside a cluster ($KUBECONFIG)', inputFile)
    .option('--database-url <url>', 'the model registry ($DATABASE_URL; default: the embedded PostgreSQL)')
    .action(async (flags: OperatorFlags) => {
      // Loaded here: the Kubernetes client alone takes a second, too long for `--help`.
      const [{ loadOperatorConfig, startOperator, watchedNamespaces }, { createLogger, createShutdown }] = await Promise.all([import('@netflicks/operator'), import('@netflicks/platform')]);
      const env = {
        ...process.env,
        ...(flags.namespace ? { OPERATOR_NAMESPACE: flags.namespace } : {}),
        ...(flags.metricsPort !== undefined ? { OPERATOR_METRICS_PORT: String(flags.metricsPort) } : {}),
        ...(flags.leaderElection === false ? { OPERATOR_LEADER_ELECTION: 'false' } : {}),
        ...(flags.kubeconfig ? { KUBECONFIG: flags.kubeconfig } : {}),
        ...(flags.databaseUrl ? { DATABASE_URL: flags.databaseUrl } : {}),
      };
      const cfg = loadOperatorConfig(env);
      const log = createLogger({ component: 'operator', level: cfg.LOG_LEVEL });
      let lost: (() => void) | undefined;
      const handle = await startOperator(cfg, { log, onLostLeadership: () => lost?.() });
      log.info({ identity: handle.identity, metrics: handle.metricsUrl, namespaces: watchedNamespaces(cfg)?.join(',') ?? '(all)' }, 'operator started');
      const exitCode = await new Promise<number>((resolve) => {
        const shutdown = createShutdown({ logger: log, exit: resolve });
        shutdown.register('operator', () => handle.stop());
        shutdown.listen();
        // A replica that lost its lease exits non-zero and is restarted as a follower (client-go does the same).
        lost = () => void shutdown.shutdown('lost the leader lease').then(() => resolve(1));
      });
      if (exitCode !== 0) throw new ReportedFailure(exitCode);
    });
}
