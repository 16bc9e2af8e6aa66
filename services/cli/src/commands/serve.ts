/**
 * `netflicks serve`: the recommend API in the foreground until SIGTERM/SIGINT (then it drains
 * in-flight requests and exits 0); SIGHUP reloads the model. Configured by the environment
 * (MODEL_FILE or MODEL_NAME [+ MODEL_VERSION], PORT, DATABASE_URL, KAFKA_BROKERS, …; see
 * services/recommend-api/README.md); flags override it. JSON logs on stdout.
 */
import { Command } from 'commander';
import type { ApiConfig } from '@netflicks/recommend-api';
import { UsageError } from '../errors.js';
import { inputFile, nonNegativeInt, positiveInt } from '../flags.js';

interface ServeFlags {
  model?: string;
  modelName?: string;
  modelVersion?: number;
  port?: number;
  host?: string;
  databaseUrl?: string;
  brokers?: string;
  migrate?: boolean;
  workers?: number;
  /** false with --no-fast-transport (commander's default for a --no- flag is true). */
  fastTransport?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve recommendations over HTTP (GET /recommend/:userId, /similar/:movieId, /movies/:movieId, /metrics, …) until SIGTERM/SIGINT')
    .option('--model <file>', 'serve this model file (no database needed)', inputFile)
    .option('--model-name <name>', "serve the registry's live version of this model, following promotions")
    .option('--model-version <n>', 'with --model-name: serve this pinned version', positiveInt)
    .option('--port <port>', 'HTTP port (default $PORT or 8082; 0 = any free)', nonNegativeInt)
    .option('--host <address>', 'bind address (default $HOST or 0.0.0.0)')
    .option('--database-url <url>', 'PostgreSQL URL for fresh ratings and the registry (default $DATABASE_URL; registry mode: the embedded server)')
    .option('--brokers <list>', 'Kafka host:port,… for recommendation-request events (default $KAFKA_BROKERS; unset: no events)')
    .option('--migrate', 'apply pending schema migrations first')
    .option('--workers <n>', 'processes sharing the port, a model copy each (default $WORKERS or 1; above 1 needs METRICS_PORT)', positiveInt)
    .option('--no-fast-transport', 'let node:http parse every request, the hot /recommend route\'s too (default $FAST_TRANSPORT or true)')
    .action(async (flags: ServeFlags) => {
      // Loaded here so that `--help` answers at once.
      const [{ ConfigError }, { loadApiConfig, runRecommendApiProcesses }] = await Promise.all([import('@netflicks/platform'), import('@netflicks/recommend-api')]);
      const overrides: Record<string, string | undefined> = {
        MODEL_FILE: flags.model,
        MODEL_NAME: flags.modelName,
        MODEL_VERSION: flags.modelVersion === undefined ? undefined : String(flags.modelVersion),
        PORT: flags.port === undefined ? undefined : String(flags.port),
        HOST: flags.host,
        DATABASE_URL: flags.databaseUrl,
        KAFKA_BROKERS: flags.brokers,
        WORKERS: flags.workers === undefined ? undefined : String(flags.workers),
        FAST_TRANSPORT: flags.fastTransport === false ? 'false' : undefined,
      };
      const env: NodeJS.ProcessEnv = { ...process.env };
      // A flag naming one model source replaces the environment's other one.
      if (flags.model !== undefined) delete env.MODEL_NAME;
      if (flags.modelName !== undefined) delete env.MODEL_FILE;
      for (const [key, value] of Object.entries(overrides)) if (value !== undefined) env[key] = value;
      let config: ApiConfig;
      try {
        config = loadApiConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        throw err;
      }
      // runRecommendApi exits the process once a signal has been handled (a cluster primary sets its exit code).
      const running = await runRecommendApiProcesses(config, { env, migrate: flags.migrate === true });
      await running.finished;
    });
}
