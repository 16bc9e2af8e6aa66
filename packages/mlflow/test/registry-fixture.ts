/**
 * Registered versions with a real model file (the mirror uploads it when it logs a run for a
 * version the trainer never tracked), and what MLflow's registry says about them.
 */
import { compressArtifact, registerModelVersion } from '@netflicks/db';
import { generateSynthetic } from '@netflicks/data';
import { buildTrainingData, createBundle, encodeModelFile, trainContent, trainIals, trainPopularity } from '@netflicks/recsys';
import type pg from 'pg';
import { keyValues, mlflowGet, type Json, type MlflowServer } from './mlflow-server.js';

/**
 * Registers one candidate version per metrics object, in order (v1, v2, …). Each is a servable
 * hybrid bundle, recorded with the algorithms it holds: the operator refuses to promote a version
 * the recommend API cannot serve.
 */
export async function registerVersions(pool: pg.Pool, modelName: string, metrics: Array<Record<string, number>>): Promise<void> {
  const { dataset } = generateSynthetic({ users: 30, movies: 40, ratings: 600, seed: 3 });
  const data = buildTrainingData(dataset.ratings, dataset.movies);
  const models = { ials: await trainIals(data, { factors: 4, iterations: 2, threads: 1, seed: 3 }), content: trainContent(data), popularity: trainPopularity(data) };
  const artifact = await compressArtifact(encodeModelFile(createBundle(data, models, { hybrid: {} })));
  for (const m of metrics) {
    await registerModelVersion(
      pool,
      {
        modelName,
        algorithms: ['ials', 'content', 'popularity', 'hybrid'],
        hyperparameters: {},
        holdout: 'temporal',
        data: { watermark: null, fingerprint: 'cd'.repeat(32), ratings: 600, users: 30, movies: 40 },
        metrics: m,
        actor: 'test',
      },
      artifact,
    );
  }
}

/** The Netflicks version an MLflow alias points at, or null when the alias is unset. */
export async function aliasVersion(server: MlflowServer, modelName: string, alias: string): Promise<number | null> {
  try {
    const res = await mlflowGet(server, 'registered-models/alias', { name: modelName, alias });
    return Number(keyValues(res.model_version.tags)['netflicks.version']);
  } catch (err) {
    if (String(err).includes('RESOURCE_DOES_NOT_EXIST') || String(err).includes('INVALID_PARAMETER_VALUE')) return null;
    throw err;
  }
}

/** MLflow's model versions of the model by Netflicks version. */
export async function mlflowVersions(server: MlflowServer, modelName: string): Promise<Map<number, Json>> {
  const res = await mlflowGet(server, 'model-versions/search', { filter: `name='${modelName}'` });
  return new Map(((res.model_versions ?? []) as Json[]).map((mv) => [Number(keyValues(mv.tags)['netflicks.version']), mv]));
}
