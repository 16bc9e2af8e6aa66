/**
 * What the evaluator exports to Prometheus. Labels are bounded: the gauges cover the buckets
 * within the lookback, so model versions that stopped serving age out of them.
 */
import { counter, gauge, histogram, type Counter, type Gauge, type Histogram, type Registry } from '@netflicks/platform';

export interface OnlineEvaluatorMetrics {
  hitRate: Gauge<'model_version' | 'strategy'>;
  clickThroughRate: Gauge<'model_version' | 'strategy'>;
  evaluatedRequests: Counter<'model_version' | 'strategy'>;
  watermark: Gauge;
  runs: Counter<'result'>;
  bucketDuration: Histogram;
}

export function createOnlineEvaluatorMetrics(registry: Registry): OnlineEvaluatorMetrics {
  return {
    hitRate: gauge(registry, {
      name: 'recommend_online_hit_rate',
      help: 'Share of served lists with a later watch or rating of one of their items within the window, over the lookback period.',
      labelNames: ['model_version', 'strategy'],
    }),
    clickThroughRate: gauge(registry, {
      name: 'recommend_online_click_through_rate',
      help: 'Share of served items watched or rated later within the window, over the lookback period.',
      labelNames: ['model_version', 'strategy'],
    }),
    evaluatedRequests: counter(registry, {
      name: 'recommend_online_evaluated_requests_total',
      help: 'Served lists evaluated by this process (each list is evaluated once across all processes).',
      labelNames: ['model_version', 'strategy'],
    }),
    watermark: gauge(registry, {
      name: 'recommend_online_evaluation_watermark_seconds',
      help: 'Unix time before which every served list is evaluated (alert on time() minus this growing past window + bucket + grace).',
    }),
    runs: counter(registry, {
      name: 'recommend_online_evaluation_runs_total',
      help: 'Evaluation runs by result (success, failure).',
      labelNames: ['result'],
    }),
    bucketDuration: histogram(registry, {
      name: 'recommend_online_evaluation_bucket_duration_seconds',
      help: 'Time to evaluate one bucket of served lists (one transaction).',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    }),
  };
}
