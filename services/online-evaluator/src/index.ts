/** @netflicks/online-evaluator: hit rate and click-through of served recommendation lists, from what ingest wrote. */
export {
  DEFAULT_EVALUATOR_METRICS_PORT,
  evaluationOptions,
  evaluatorConfigSchema,
  loadEvaluatorConfig,
  parseDurationSeconds,
  type EvaluatorConfig,
} from './config.js';
export { createOnlineEvaluatorMetrics, type OnlineEvaluatorMetrics } from './service-metrics.js';
export { OnlineEvaluator, type EvaluatorRunResult, type OnlineEvaluatorOptions } from './evaluator.js';
export { runOnlineEvaluationOnce, runOnlineEvaluator, type RunEvaluatorOptions, type RunningEvaluator } from './run.js';
