/**
 * The chart's PrometheusRules with Debian's promtool: `promtool check rules` on the rendered
 * groups (every ci/*-values.yaml that renders rules), and `promtool test rules` unit tests that
 * feed each alert series on both sides of its threshold, so the expressions are shown to fire when
 * they should and stay quiet otherwise (not only to parse).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CI_VALUES_DIR, ciValuesFiles, render, requireTools, ruleFile, run, stageChart, type K8sObject } from '../helm/support.js';

const t = await requireTools('PrometheusRule checks', 'helm', 'promtool');
const describeTools = t ? describe : describe.skip;

interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts: { exp_labels: Record<string, string> }[];
}

const NS = 'netflicks';
const DAY = 86_400;

describeTools('PrometheusRules', () => {
  let chart: string;
  let cleanup: () => Promise<void>;
  let work: string;
  const objects: Record<string, K8sObject[]> = {};

  beforeAll(async () => {
    ({ dir: chart, cleanup } = await stageChart());
    work = await mkdtemp(join(tmpdir(), 'netflicks-rules-'));
    for (const f of await ciValuesFiles()) objects[f] = await render(t!.helm, chart, { valuesFiles: [join(CI_VALUES_DIR, f)] });
  });
  afterAll(async () => {
    await cleanup?.();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test.each(['default-values.yaml', 'production-values.yaml'])('promtool check rules accepts the rules rendered with %s', async (file) => {
    const rules = ruleFile(objects[file]);
    expect(rules.groups.map((g) => g.name)).toEqual(['netflicks.recommend-api', 'netflicks.ingest', 'netflicks.models', 'netflicks.operator']);
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual([
      'NetflicksApiLatencyP99High',
      'NetflicksApi5xxRatioHigh',
      'NetflicksModelNotServing',
      'NetflicksIngestLagHigh',
      'NetflicksIngestDeadLetters',
      'NetflicksIngestBatchesFailing',
      'NetflicksTrainingRunFailed',
      'NetflicksNoModelPromoted',
      'NetflicksOperatorReconcileErrors',
      'NetflicksOperatorNoLeader',
      'NetflicksMlflowMirrorLagging',
    ]);
    const path = join(work, `rules-${file}`);
    await writeFile(path, stringify(rules));
    const r = await run(t!.promtool, ['check', 'rules', path]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('SUCCESS: 11 rules found');
    expect(r.code).toBe(0);
  });

  test('the minimal install renders no rules', () => {
    expect(ruleFile(objects['minimal-values.yaml']).groups).toEqual([]);
  });

  test('promtool test rules: every alert fires on its symptom and stays quiet below its threshold', async () => {
    const rules = ruleFile(objects['default-values.yaml']);
    // Annotations are templates over the firing value; the behaviour under test is expr/for/labels.
    for (const g of rules.groups) for (const r of g.rules) delete (r as { annotations?: unknown }).annotations;
    await writeFile(join(work, 'rules.yaml'), stringify(rules));

    const lat = (le: string, perMin: number) => ({ series: `http_request_duration_seconds_bucket{namespace="${NS}",route="/recommend/:userId",method="GET",status="200",le="${le}"}`, values: `0+${perMin}x40` });
    const count = (ns: string, status: string, perMin: number) => ({ series: `http_request_duration_seconds_count{namespace="${ns}",route="/recommend/:userId",method="GET",status="${status}"}`, values: `0+${perMin}x40` });
    const alert = (alertname: string, at: string, labels: Record<string, string>[]): AlertTest => ({
      eval_time: at,
      alertname,
      exp_alerts: labels.map((l) => ({ exp_labels: { ...l } })),
    });
    const completed = 100 * 60; // TrainingRun completion times in the test's clock (seconds)
    const tests = [
      {
        // API: slow (every request between 0.25 s and 0.5 s) in ns "slow", fast in ns "netflicks".
        interval: '1m',
        input_series: [
          lat('0.1', 60),
          lat('0.25', 60),
          lat('+Inf', 60),
          { series: 'http_request_duration_seconds_bucket{namespace="slow",route="/recommend/:userId",method="GET",status="200",le="0.25"}', values: '0+0x40' },
          { series: 'http_request_duration_seconds_bucket{namespace="slow",route="/recommend/:userId",method="GET",status="200",le="0.5"}', values: '0+60x40' },
          { series: 'http_request_duration_seconds_bucket{namespace="slow",route="/recommend/:userId",method="GET",status="200",le="+Inf"}', values: '0+60x40' },
          // 5xx: 5 % in "broken" (over 1 %), 0.5 % in "netflicks"
          count('broken', '200', 95),
          count('broken', '500', 5),
          count(NS, '200', 995),
          count(NS, '503', 5),
        ],
        alert_rule_test: [
          alert('NetflicksApiLatencyP99High', '8m', []), // `for: 10m` not yet satisfied
          alert('NetflicksApiLatencyP99High', '20m', [{ namespace: 'slow', severity: 'warning' }]),
          alert('NetflicksApi5xxRatioHigh', '20m', [{ namespace: 'broken', severity: 'critical' }]),
        ],
      },
      {
        // "movies" lost its pods at 10 min; "fresh" has no live version yet; "ok" serves.
        interval: '1m',
        input_series: [
          { series: `netflicks_recommendermodel_ready_replicas{namespace="${NS}",model="movies"}`, values: '2x9 0x30' },
          { series: `netflicks_recommendermodel_live_version{namespace="${NS}",model="movies"}`, values: '3x40' },
          { series: `netflicks_recommendermodel_ready_replicas{namespace="${NS}",model="fresh"}`, values: '0x40' },
          { series: `netflicks_recommendermodel_ready_replicas{namespace="${NS}",model="ok"}`, values: '2x40' },
          { series: `netflicks_recommendermodel_live_version{namespace="${NS}",model="ok"}`, values: '1x40' },
        ],
        alert_rule_test: [
          alert('NetflicksModelNotServing', '12m', []), // `for: 5m` not yet satisfied
          alert('NetflicksModelNotServing', '20m', [{ namespace: NS, model: 'movies', severity: 'critical' }]),
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: `netflicks_kafka_consumer_lag{namespace="${NS}",group="netflicks-ingest",topic="netflicks.ratings",partition="0"}`, values: '6000x40' },
          { series: `netflicks_kafka_consumer_lag{namespace="${NS}",group="netflicks-ingest",topic="netflicks.ratings",partition="1"}`, values: '6000x40' },
          { series: `netflicks_kafka_consumer_lag{namespace="${NS}",group="netflicks-ingest",topic="netflicks.watch-events",partition="0"}`, values: '9000x40' },
          // Three replicas each reporting the group's 4,000 on two partitions: 8,000 behind, not 24,000.
          ...['a', 'b', 'c'].flatMap((pod) =>
            ['0', '1'].map((partition) => ({
              series: `netflicks_kafka_consumer_lag{namespace="scaled",pod="${pod}",group="netflicks-ingest",topic="netflicks.ratings",partition="${partition}"}`,
              values: '4000x40',
            })),
          ),
          // 2 dead letters a minute for one reason, 0.5 for another
          { series: `netflicks_ingest_events_dead_lettered_total{namespace="${NS}",topic="netflicks.ratings",reason="schema"}`, values: '0+2x40' },
          { series: `netflicks_ingest_events_dead_lettered_total{namespace="${NS}",topic="netflicks.ratings",reason="unknown-movie"}`, values: '0+0.5x40' },
          { series: `netflicks_ingest_batch_failures_total{namespace="${NS}",stage="database"}`, values: '0+1x40' },
          { series: `netflicks_ingest_batch_failures_total{namespace="${NS}",stage="dlq"}`, values: '0x40' },
        ],
        alert_rule_test: [
          // 12,000 across the ratings partitions (summed per topic) > 10,000; watch-events 9,000 and "scaled" 8,000 are not
          alert('NetflicksIngestLagHigh', '15m', [{ namespace: NS, group: 'netflicks-ingest', topic: 'netflicks.ratings', severity: 'warning' }]),
          alert('NetflicksIngestDeadLetters', '15m', [{ namespace: NS, topic: 'netflicks.ratings', reason: 'schema', severity: 'warning' }]),
          alert('NetflicksIngestBatchesFailing', '15m', [{ namespace: NS, stage: 'database', severity: 'critical' }]),
        ],
      },
      {
        // Model lifecycle, from kube-state-metrics' custom resource metrics. Clock: 0 = epoch.
        // Samples every 5 min (within the 5 min lookback) for 200 h.
        interval: '5m',
        input_series: [
          // run-a failed at t=100 min; run-b succeeded (Promoted) long ago.
          { series: `netflicks_trainingrun_status_phase{namespace="${NS}",model="movies",trainingrun="run-a",phase="Failed"}`, values: '1x2400' },
          { series: `netflicks_trainingrun_status_phase{namespace="${NS}",model="movies",trainingrun="run-b",phase="Failed"}`, values: '0x2400' },
          { series: `netflicks_trainingrun_completion_time_seconds{namespace="${NS}",model="movies",trainingrun="run-a"}`, values: `${completed}x2400` },
          { series: `netflicks_trainingrun_completion_time_seconds{namespace="${NS}",model="movies",trainingrun="run-b"}`, values: '60x2400' },
          // movies: created at 0, promoted at 5 days; stale: created at 0, never promoted.
          { series: `netflicks_recommendermodel_created_time_seconds{namespace="${NS}",model="movies"}`, values: '0x2400' },
          { series: `netflicks_trainingrun_condition_transition_time_seconds{namespace="${NS}",model="movies",trainingrun="run-b",type="Promoted",status="True"}`, values: `${5 * DAY}x2400` },
          { series: `netflicks_recommendermodel_created_time_seconds{namespace="${NS}",model="stale"}`, values: '0x2400' },
        ],
        alert_rule_test: [
          alert('NetflicksTrainingRunFailed', '2h', [{ namespace: NS, model: 'movies', trainingrun: 'run-a', severity: 'warning' }]),
          // 24 h after its completion the failed run no longer alerts.
          alert('NetflicksTrainingRunFailed', '27h', []),
          // Day 8: "stale" has had nothing for 8 days (> 7); "movies" was promoted 3 days ago.
          alert('NetflicksNoModelPromoted', '8d', [{ namespace: NS, model: 'stale', severity: 'warning' }]),
          // Day 6: neither (the `for: 1h` and the 7 days both unmet).
          alert('NetflicksNoModelPromoted', '6d', []),
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: `controller_runtime_reconcile_total{namespace="${NS}",controller="trainingrun",result="success"}`, values: '0+8x60' },
          { series: `controller_runtime_reconcile_total{namespace="${NS}",controller="trainingrun",result="error"}`, values: '0+2x60' },
          { series: `controller_runtime_reconcile_total{namespace="${NS}",controller="recommendermodel",result="success"}`, values: '0+99x60' },
          { series: `controller_runtime_reconcile_total{namespace="${NS}",controller="recommendermodel",result="error"}`, values: '0+1x60' },
          // Another operator's controller in the namespace is ignored.
          { series: `controller_runtime_reconcile_total{namespace="${NS}",controller="other",result="error"}`, values: '0+100x60' },
          { series: `leader_election_master_status{namespace="${NS}",name="netflicks-operator",instance="a"}`, values: '0x60' },
          { series: `leader_election_master_status{namespace="${NS}",name="netflicks-operator",instance="b"}`, values: '0x60' },
          { series: `leader_election_master_status{namespace="ok",name="netflicks-operator",instance="c"}`, values: '1x60' },
        ],
        alert_rule_test: [
          // 20 % errors in trainingrun (> 10 %), 1 % in recommendermodel.
          alert('NetflicksOperatorReconcileErrors', '30m', [{ namespace: NS, controller: 'trainingrun', severity: 'warning' }]),
          alert('NetflicksOperatorNoLeader', '10m', [{ namespace: NS, severity: 'critical' }]),
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: `netflicks_operator_mlflow_mirror_lag{namespace="${NS}",model="films",instance="a"}`, values: '3x60' },
          { series: `netflicks_operator_mlflow_mirror_lag{namespace="${NS}",model="mirrored",instance="a"}`, values: '0x60' },
        ],
        alert_rule_test: [
          // Lagging for 40 minutes (> the 30 m `for`); the mirrored model never alerts.
          alert('NetflicksMlflowMirrorLagging', '40m', [{ namespace: NS, model: 'films', severity: 'warning' }]),
          alert('NetflicksMlflowMirrorLagging', '20m', []),
        ],
      },
    ];
    await writeFile(join(work, 'rules.test.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '5m', tests }));
    const r = await run(t!.promtool, ['test', 'rules', 'rules.test.yaml'], { cwd: work });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.stdout + r.stderr).not.toContain('FAILED');
    expect(r.code).toBe(0);
  });
});
