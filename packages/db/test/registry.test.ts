import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  ArtifactIntegrityError,
  MODEL_LIVE_CHANNEL,
  RegistryError,
  applyRetention,
  compressArtifact,
  createPool,
  getLiveVersion,
  listModelVersions,
  listModels,
  listTransitions,
  loadModelArtifact,
  parseVersionRef,
  promoteModelVersion,
  recordVerdict,
  registerModelVersion,
  resolveVersion,
  rollbackModel,
  validateModelVersion,
  type CompressedArtifact,
  type RegisterInput,
} from '@netflicks/db';
import { parseValidationPolicy } from '@netflicks/recsys';
import pg from 'pg';
import { describePostgres } from '../../../test/support/postgres.js';

const FINGERPRINT = 'ab'.repeat(32);

function input(modelName: string, metrics: Record<string, number> = { rmse: 0.9, 'ndcg@10': 0.3 }, extra: Partial<RegisterInput> = {}): RegisterInput {
  return {
    modelName,
    trainingRun: 'run-1',
    algorithms: ['hybrid', 'als'],
    hyperparameters: { factors: '32' },
    holdout: 'temporal',
    data: { watermark: new Date('2024-01-02T03:04:05Z'), fingerprint: FINGERPRINT, ratings: 1000, users: 50, movies: 80 },
    metrics,
    actor: 'test',
    ...extra,
  };
}

const fileBytes = (n: number, seed: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
};

await describePostgres('model registry', (db) => {
  let artifact: CompressedArtifact;
  beforeAll(async () => {
    artifact = await compressArtifact(fileBytes(50_000, 1));
  });

  test('register assigns version 1, 2, … per model, in state candidate, with the artifact intact', async () => {
    const a = await registerModelVersion(db.pool, input('alpha'), artifact);
    const b = await registerModelVersion(db.pool, input('alpha'), artifact);
    const other = await registerModelVersion(db.pool, input('beta'), artifact);
    expect([a.version, b.version, other.version]).toEqual([1, 2, 1]);
    expect(a).toMatchObject({
      modelName: 'alpha',
      state: 'candidate',
      trainingRun: 'run-1',
      algorithms: ['hybrid', 'als'],
      hyperparameters: { factors: '32' },
      holdout: 'temporal',
      dataFingerprint: FINGERPRINT,
      dataStats: { ratings: 1000, users: 50, movies: 80 },
      metrics: { rmse: 0.9, 'ndcg@10': 0.3 },
      artifactSize: artifact.bytes.length,
      artifactSha256: createHash('sha256').update(artifact.bytes).digest('hex'),
      modelFileSize: 50_000,
      createdBy: 'test',
      previousLive: null,
    });
    expect(a.dataWatermark?.toISOString()).toBe('2024-01-02T03:04:05.000Z');
    expect((await loadModelArtifact(db.pool, 'alpha', 2)).equals(fileBytes(50_000, 1))).toBe(true);
  });

  test('non-finite metrics are left out rather than stored as fake numbers', async () => {
    const rec = await registerModelVersion(db.pool, input('nan-metrics', { rmse: Number.NaN, 'ndcg@10': 0.25 }), artifact);
    expect(rec.metrics).toEqual({ 'ndcg@10': 0.25 });
  });

  test('invalid model names are refused', async () => {
    await expect(registerModelVersion(db.pool, input('Bad_Name'), artifact)).rejects.toThrow(/invalid model name "Bad_Name"/);
  });

  test('an artifact larger than one chunk round-trips', async () => {
    const big = randomBytes(9 * 1024 * 1024 + 123); // incompressible: 3 chunks of 4 MiB
    const rec = await registerModelVersion(db.pool, input('big'), await compressArtifact(big));
    expect(rec.artifactSize).toBeGreaterThan(8 * 1024 * 1024);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM model_artifact_chunks c JOIN model_versions v USING (artifact_id) WHERE v.model_name = $1', ['big']);
    expect(rows[0].n).toBe(3);
    expect((await loadModelArtifact(db.pool, 'big', rec.version)).equals(big)).toBe(true);
  });

  test('train → register → validate → promote → load; rollback restores the previous live version', async () => {
    const m = 'lifecycle';
    const policy = parseValidationPolicy({ maxRMSE: '1.0', minNDCGAt10: '0.2', regressionMetrics: 'rmse,ndcg@10' });
    const v1 = await registerModelVersion(db.pool, input(m, { rmse: 0.95, 'ndcg@10': 0.3 }), await compressArtifact(fileBytes(1000, 1)));
    const r1 = await validateModelVersion(db.pool, m, v1.version, policy, { actor: 'test' });
    expect(r1.verdict.outcome).toBe('passed');
    expect(r1.record.state).toBe('validated');
    const p1 = await promoteModelVersion(db.pool, m, 1, { actor: 'op' });
    expect(p1).toMatchObject({ previous: null, live: { version: 1, state: 'live', previousLive: null } });

    // v2 is measured against live v1 on the same holdout and is better: it passes and goes live.
    const v2 = await registerModelVersion(
      db.pool,
      input(m, { rmse: 0.9, 'ndcg@10': 0.35 }, { baseline: { version: 1, metrics: { rmse: 0.96, 'ndcg@10': 0.3 }, rows: 40 } }),
      await compressArtifact(fileBytes(1000, 2)),
    );
    expect((await validateModelVersion(db.pool, m, v2.version, policy, { actor: 'test' })).verdict.outcome).toBe('passed');
    const p2 = await promoteModelVersion(db.pool, m, 2, { actor: 'op' });
    expect(p2.previous).toBe(1);
    expect(p2.live.previousLive).toBe(1);
    expect((await resolveVersion(db.pool, m, 1)).state).toBe('retired');
    expect((await loadModelArtifact(db.pool, m, (await getLiveVersion(db.pool, m))?.version ?? 0)).equals(fileBytes(1000, 2))).toBe(true);

    const rb = await rollbackModel(db.pool, m, { actor: 'op', reason: 'bad canary' });
    expect(rb).toMatchObject({ previous: 2, live: { version: 1, state: 'live' } });
    expect((await resolveVersion(db.pool, m, 2)).state).toBe('retired');
    expect((await loadModelArtifact(db.pool, m, 1)).equals(fileBytes(1000, 1))).toBe(true);
    // v1 had no predecessor: one step back is as far as it goes.
    await expect(rollbackModel(db.pool, m, { actor: 'op' })).rejects.toThrow(/v1 has no previous live version/);

    const trail = (await listTransitions(db.pool, m)).reverse().map((t) => `v${t.version} ${t.from ?? '∅'}→${t.to} (${t.actor})`);
    expect(trail).toEqual([
      'v1 ∅→candidate (test)',
      'v1 candidate→validated (test)',
      'v1 validated→live (op)',
      'v2 ∅→candidate (test)',
      'v2 candidate→validated (test)',
      'v1 live→retired (op)',
      'v2 validated→live (op)',
      'v2 live→retired (op)',
      'v1 retired→live (op)',
    ]);
    expect((await listTransitions(db.pool, m, { limit: 1 }))[0].reason).toBe('bad canary');
  });

  test('rollback walks back through the chain of previously live versions', async () => {
    const m = 'chain';
    for (let i = 1; i <= 3; i++) {
      const v = await registerModelVersion(db.pool, input(m), artifact);
      await recordVerdict(db.pool, m, v.version, { outcome: 'passed' }, { actor: 't' });
      await promoteModelVersion(db.pool, m, v.version, { actor: 't' });
    }
    expect((await rollbackModel(db.pool, m, { actor: 't' })).live.version).toBe(2);
    expect((await rollbackModel(db.pool, m, { actor: 't' })).live.version).toBe(1);
  });

  test('lifecycle rules: rejected never goes live, candidates only with force, inconclusive stays candidate', async () => {
    const m = 'rules';
    const v1 = await registerModelVersion(db.pool, input(m), artifact);
    const v2 = await registerModelVersion(db.pool, input(m), artifact);
    const v3 = await registerModelVersion(db.pool, input(m), artifact);
    await expect(promoteModelVersion(db.pool, m, v1.version, { actor: 't' })).rejects.toThrow(/is candidate \(validate it first, or force/);
    expect((await recordVerdict(db.pool, m, v2.version, { outcome: 'failed' }, { actor: 't' })).state).toBe('rejected');
    await expect(promoteModelVersion(db.pool, m, v2.version, { actor: 't', force: true })).rejects.toThrow(/it is rejected/);
    const inc = await recordVerdict(db.pool, m, v3.version, { outcome: 'inconclusive', reasons: ['rmse missing'] }, { actor: 't' });
    expect(inc.state).toBe('candidate');
    expect(inc.verdict).toEqual({ outcome: 'inconclusive', reasons: ['rmse missing'] });
    const forced = await promoteModelVersion(db.pool, m, v1.version, { actor: 't', force: true, reason: 'hotfix' });
    expect(forced.live.state).toBe('live');
    // Promoting the live version again changes nothing.
    expect((await promoteModelVersion(db.pool, m, v1.version, { actor: 't' })).live.version).toBe(1);
    await expect(promoteModelVersion(db.pool, m, 99, { actor: 't' })).rejects.toThrow(/has no version 99/);
    await expect(rollbackModel(db.pool, 'no-such-model', { actor: 't' })).rejects.toBeInstanceOf(RegistryError);
  });

  test('the database itself refuses a second live version of a model', async () => {
    const m = 'one-live';
    await registerModelVersion(db.pool, input(m), artifact);
    await registerModelVersion(db.pool, input(m), artifact);
    await db.pool.query("UPDATE model_versions SET state = 'live' WHERE model_name = $1 AND version = 1", [m]);
    await expect(db.pool.query("UPDATE model_versions SET state = 'live' WHERE model_name = $1 AND version = 2", [m])).rejects.toThrow(
      /model_versions_one_live/,
    );
  });

  test('aliases: champion = live, challenger = newest validated, latest, previous', async () => {
    const m = 'aliases';
    for (let i = 0; i < 4; i++) await registerModelVersion(db.pool, input(m), artifact);
    await recordVerdict(db.pool, m, 1, { outcome: 'passed' }, { actor: 't' });
    await recordVerdict(db.pool, m, 2, { outcome: 'passed' }, { actor: 't' });
    await recordVerdict(db.pool, m, 3, { outcome: 'passed' }, { actor: 't' });
    await promoteModelVersion(db.pool, m, 1, { actor: 't' });
    await promoteModelVersion(db.pool, m, 2, { actor: 't' });
    const v = async (ref: string) => (await resolveVersion(db.pool, m, parseVersionRef(ref))).version;
    expect(await v('champion')).toBe(2);
    expect(await v('live')).toBe(2);
    expect(await v('challenger')).toBe(3);
    expect(await v('latest')).toBe(4);
    expect(await v('previous')).toBe(1);
    expect(await v('v3')).toBe(3);
    expect(() => parseVersionRef('newest')).toThrow(/invalid version "newest"/);
    await expect(resolveVersion(db.pool, 'alpha', 'champion')).rejects.toThrow('model "alpha" has no champion version');
    const summary = (await listModels(db.pool)).find((s) => s.name === m);
    expect(summary).toMatchObject({ versions: 4, latest: 4, live: 2, challenger: 3 });
  });

  test('a flipped byte in a stored artifact is refused at load with a clear error', async () => {
    const m = 'corrupt';
    const rec = await registerModelVersion(db.pool, input(m), artifact);
    await db.pool.query(
      `UPDATE model_artifact_chunks c SET data = overlay(data placing '\\x00'::bytea from 100 for 1)
       FROM model_versions v WHERE v.artifact_id = c.artifact_id AND v.model_name = $1 AND c.seq = 0`,
      [m],
    );
    // (make sure the byte really changed: position 100 was not already zero)
    expect(artifact.bytes[99]).not.toBe(0);
    const err = await loadModelArtifact(db.pool, m, rec.version).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactIntegrityError);
    expect((err as Error).message).toMatch(/^model "corrupt" version 1: artifact checksum mismatch .*refusing to load it$/);
  });

  test('an artifact that inflates past its recorded model-file size is refused without inflating it', async () => {
    const bomb = await compressArtifact(Buffer.alloc(64 * 1024 * 1024)); // ~64 KB of gzip
    const rec = await registerModelVersion(db.pool, input('bomb'), { ...bomb, modelFileSize: 1000 });
    const err = await loadModelArtifact(db.pool, 'bomb', rec.version).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactIntegrityError);
    expect((err as Error).message).toMatch(/^model "bomb" version 1: artifact does not decompress: /);
  });

  test('retention keeps the newest N, the live version and the one a rollback returns to', async () => {
    const m = 'retention';
    for (let i = 1; i <= 8; i++) await registerModelVersion(db.pool, input(m), artifact);
    for (const v of [2, 3]) await recordVerdict(db.pool, m, v, { outcome: 'passed' }, { actor: 't' });
    await promoteModelVersion(db.pool, m, 2, { actor: 't' });
    await promoteModelVersion(db.pool, m, 3, { actor: 't' }); // live 3, previous 2
    const deleted = await applyRetention(db.pool, m, 3, { actor: 'gc' });
    expect(deleted).toEqual([1, 4, 5]);
    expect((await listModelVersions(db.pool, m)).map((v) => v.version)).toEqual([8, 7, 6, 3, 2]);
    const orphans = await db.pool.query('SELECT count(*)::int AS n FROM model_artifacts a WHERE NOT EXISTS (SELECT 1 FROM model_versions v WHERE v.artifact_id = a.id)');
    expect(orphans.rows[0].n).toBe(0);
    expect((await listTransitions(db.pool, m, { version: 4 }))[0]).toMatchObject({ from: 'candidate', to: 'deleted', actor: 'gc' });
    // Still a one-step rollback target after pruning.
    expect((await rollbackModel(db.pool, m, { actor: 't' })).live.version).toBe(2);
  });

  test('promotion and rollback NOTIFY the live-model channel with the model name', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      const got: string[] = [];
      listener.on('notification', (n) => got.push(`${n.channel}:${n.payload}`));
      await listener.query(`LISTEN ${MODEL_LIVE_CHANNEL}`);
      const m = 'notify';
      await registerModelVersion(db.pool, input(m), artifact);
      await promoteModelVersion(db.pool, m, 1, { actor: 't', force: true });
      const deadline = Date.now() + 5000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual([`${MODEL_LIVE_CHANNEL}:${m}`]);
    } finally {
      await listener.end();
    }
  });

  test('two trainers registering at once get distinct versions', async () => {
    const pools = [createPool(db.url, { max: 1 }), createPool(db.url, { max: 1 }), createPool(db.url, { max: 1 })];
    try {
      const versions = await Promise.all(
        Array.from({ length: 12 }, (_, i) => registerModelVersion(pools[i % 3], input('concurrent'), artifact).then((r) => r.version)),
      );
      expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  test('a trainer killed mid-registration leaves no half-written version', async () => {
    const dbDist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    // A child registers a 48 MiB artifact (12 chunks); it is SIGKILLed once its upload is under way.
    const script = `
      import { createHash, randomBytes } from 'node:crypto';
      import { createPool, registerModelVersion } from ${JSON.stringify(dbDist)};
      const bytes = randomBytes(48 * 1024 * 1024);
      const pool = createPool(process.env.URL, { max: 1, applicationName: 'doomed-trainer' });
      await registerModelVersion(pool, JSON.parse(process.env.INPUT),
        { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), modelFileSize: bytes.length },
        { onProgress: (f) => process.stdout.write('progress ' + f + '\\n') });
      process.stdout.write('committed\\n');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, URL: db.url, INPUT: JSON.stringify(input('killed')) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/progress 0\.[3-9]/.test(out)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    await new Promise((r) => child.once('close', r));
    expect(out).not.toContain('committed');
    // The server notices the dead connection and rolls its transaction back.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'doomed-trainer'");
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const counts = await db.pool.query(
      `SELECT (SELECT count(*)::int FROM model_versions WHERE model_name = 'killed') AS versions,
              (SELECT count(*)::int FROM models WHERE name = 'killed') AS models,
              (SELECT count(*)::int FROM model_artifacts a WHERE NOT EXISTS (SELECT 1 FROM model_versions v WHERE v.artifact_id = a.id)) AS orphans`,
    );
    expect(counts.rows[0]).toEqual({ versions: 0, models: 0, orphans: 0 });
    // The number was never taken: the next registration is version 1.
    expect((await registerModelVersion(db.pool, input('killed'), artifact)).version).toBe(1);
  });
});
