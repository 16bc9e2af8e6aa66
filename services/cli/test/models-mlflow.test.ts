/**
 * `netflicks models` with a real MLflow server and a real PostgreSQL (the compiled CLI): each
 * lifecycle change moves MLflow's registry at once (champion on promotion and rollback, the
 * verdict on a rejection), listings carry each version's run URL, and an MLflow that is down
 * neither fails nor holds up a promotion.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describePostgres } from '../../../test/support/postgres.js';
import { hangingServer, keyValues, mlflowForTests, type Json } from '../../../packages/mlflow/test/mlflow-server.js';
import { aliasVersion, mlflowVersions, registerVersions } from '../../../packages/mlflow/test/registry-fixture.js';

const BIN = fileURLToPath(new URL('../bin/netflicks.js', import.meta.url));
const MODEL = `cli-${Date.now().toString(36)}`;
const server = await mlflowForTests('netflicks models with a real MLflow server');

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

if (!server) {
  describe.skip('netflicks models with MLflow (needs MLflow: npm run mlflow:up)', () => {
    test('skipped', () => undefined);
  });
} else {
  await describePostgres('netflicks models with a real MLflow server', (db) => {
    // A generous mirror budget: on a loaded machine a real MLflow can take longer than the 10 s default
    // (the test of the budget itself sets its own).
    const env = () => ({ DATABASE_URL: db.url, USER: 'alice', MLFLOW_TRACKING_URI: server.url, NETFLICKS_MLFLOW_BUDGET_SECONDS: '60' });
    const json = async (args: string[]): Promise<Json> => {
      const r = await cli([...args, '--json'], env());
      if (r.code !== 0) throw new Error(`netflicks ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout) as Json;
    };

    test('validate, promote and rollback move MLflow at once; a rejection is tagged; list and show print run URLs', async () => {
      await registerVersions(db.pool, MODEL, [
        { rmse: 0.9, 'ndcg@10': 0.3 },
        { rmse: 0.85, 'ndcg@10': 0.32 },
        { rmse: 1.5, 'ndcg@10': 0.1 },
      ]);

      const v1 = await json(['models', 'validate', MODEL, '1', '--max-rmse', '1.0']);
      expect(v1.mlflow).toEqual({ lag: 0 });
      // the first change mirrors every version (runs logged for versions the trainer never tracked)
      expect([...(await mlflowVersions(server, MODEL)).keys()].sort()).toEqual([1, 2, 3]);
      expect(await aliasVersion(server, MODEL, 'challenger')).toBe(1);
      expect(await aliasVersion(server, MODEL, 'champion')).toBeNull();

      expect((await json(['models', 'promote', MODEL, '1'])).mlflow).toEqual({ lag: 0 });
      expect(await aliasVersion(server, MODEL, 'champion')).toBe(1);
      expect(await aliasVersion(server, MODEL, 'challenger')).toBeNull();

      // v2 has no baseline against live v1: inconclusive, stays a candidate; promoted by force
      expect((await cli(['models', 'validate', MODEL, '2', '--max-rmse', '1.0'], env())).code).toBe(3);
      await json(['models', 'promote', MODEL, '2', '--force']);
      expect(await aliasVersion(server, MODEL, 'champion')).toBe(2);

      const rolled = await json(['models', 'rollback', MODEL]);
      expect(rolled.live.version).toBe(1);
      expect(await aliasVersion(server, MODEL, 'champion')).toBe(1);

      const rejected = await cli(['models', 'validate', MODEL, '3', '--max-rmse', '1.0'], env());
      expect(rejected.code).toBe(1);
      const v3 = keyValues((await mlflowVersions(server, MODEL)).get(3)!.tags);
      expect(v3).toMatchObject({ 'netflicks.state': 'rejected', 'netflicks.verdict.outcome': 'failed' });
      expect(keyValues((await mlflowVersions(server, MODEL)).get(2)!.tags)['netflicks.state']).toBe('retired');

      // each version's run URL is the UI page of the run its MLflow model version came from
      const listed = (await json(['models', 'list', MODEL])) as unknown as Json[];
      const mv = await mlflowVersions(server, MODEL);
      const experiment = (await fetch(`${server.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${MODEL}`).then((r) => r.json())) as Json;
      const experimentId = experiment.experiment.experiment_id as string;
      expect(listed.map((v) => [v.version, v.mlflowRunUrl])).toEqual(
        [3, 2, 1].map((n) => [n, `${server.url}/#/experiments/${experimentId}/runs/${mv.get(n)!.run_id}`]),
      );
      const human = await cli(['models', 'list', MODEL], env());
      expect(human.stdout).toMatch(/mlflow run/);
      expect(human.stdout).toContain(`${server.url}/#/experiments/${experimentId}/runs/${mv.get(1)!.run_id}`);
      expect((await json(['models', 'show', MODEL])).mlflowRunUrl).toBe(`${server.url}/#/experiments/${experimentId}/runs/${mv.get(1)!.run_id}`);
    });

    test('prune: versions retention deletes stay in MLflow, tagged deleted', async () => {
      const model = `${MODEL}-prune`;
      await registerVersions(db.pool, model, [{ rmse: 0.9 }, { rmse: 0.8 }, { rmse: 0.7 }]);
      await json(['models', 'promote', model, '3', '--force']);
      const pruned = await json(['models', 'prune', model, '--keep', '1']);
      expect(pruned).toEqual({ model, deleted: [1, 2], mlflow: { lag: 0 } });
      const states = [...(await mlflowVersions(server, model))].map(([v, mv]) => [v, keyValues(mv.tags)['netflicks.state']]).sort();
      expect(states).toEqual([[1, 'deleted'], [2, 'deleted'], [3, 'live']]);
      expect(await aliasVersion(server, model, 'champion')).toBe(3);
    });

    test('MLflow not answering: the promotion succeeds within the budget, warns and reports the lag', async () => {
      const hang = await hangingServer();
      try {
        const t0 = Date.now();
        const r = await cli(['models', 'promote', MODEL, '2', '--json'], { ...env(), MLFLOW_TRACKING_URI: hang.url, MLFLOW_HTTP_REQUEST_TIMEOUT: '1', NETFLICKS_MLFLOW_BUDGET_SECONDS: '3' });
        expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
        expect(Date.now() - t0).toBeLessThan(30_000);
        const out = JSON.parse(r.stdout) as Json;
        expect(out.live.version).toBe(2);
        expect(out.mlflow.lag).toBe(3);
        expect(out.mlflow.error).toMatch(/timed out|budget/);
        expect(r.stderr).toMatch(/MLflow registry mirror failed/);
      } finally {
        hang.close();
      }
      // the next change with MLflow back catches up (champion follows v2)
      await json(['models', 'rollback', MODEL]);
      await json(['models', 'promote', MODEL, '2']);
      expect(await aliasVersion(server, MODEL, 'champion')).toBe(2);
    });
  });
}
