/**
 * With MODEL_SIGNING_KEY_FILE the trainer signs the model it registers, so an API configured with
 * the public key serves it and refuses anything a writable registry alone could inject.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '@netflicks/contracts';
import { generateSynthetic } from '@netflicks/data';
import { importDataset, loadModelArtifact } from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { decodeModelFile, openBundle } from '@netflicks/recsys';
import { runTrainerJob } from '@netflicks/trainer';
import { describePostgres } from '../../../test/support/postgres.js';

const silent = createLogger({ component: 'trainer-signing-test', level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'nflx-signing-'));
const trainer = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
writeFileSync(join(dir, 'model-signing.key'), trainer.privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(join(dir, 'not-a-key'), 'hello');

function job(env: Record<string, string>) {
  return runTrainerJob({
    env: { THREADS: '1', ALGORITHMS: 'ials,content,popularity,hybrid', HYPERPARAMETERS: 'iterations=2,factors=8', MIN_RATINGS: '50', ...env, TERMINATION_MESSAGE_PATH: join(dir, 'termination-log') },
    log: silent,
    progress: () => ({ update: () => {}, done: () => {} }),
    stdout: () => {},
  });
}

await describePostgres('trainer model signing', (db) => {
  beforeAll(async () => {
    await importDataset(db.pool, generateSynthetic({ users: 60, movies: 80, ratings: 2000, seed: 5 }).dataset);
  });

  test('the registered model verifies with the trainer public key only', async () => {
    const out = await job({ MODEL_NAME: 'signed', DATABASE_URL: db.url, MODEL_SIGNING_KEY_FILE: join(dir, 'model-signing.key') });
    expect(out.exitCode).toBe(0);
    const artifact = await loadModelArtifact(db.pool, 'signed', 1);
    expect(artifact.readUInt16LE(10)).toBe(1); // FLAG_SIGNED
    expect(openBundle(decodeModelFile(artifact, { publicKey: trainer.publicKey })).meta.kind).toBe('netflicks-model-bundle');
    expect(() => decodeModelFile(artifact, { publicKey: other.publicKey })).toThrow('model signature does not match the configured public key');
  });

  test('without a key the model is unsigned, and refused where a public key is configured', async () => {
    const out = await job({ MODEL_NAME: 'unsigned', DATABASE_URL: db.url });
    expect(out.exitCode).toBe(0);
    const artifact = await loadModelArtifact(db.pool, 'unsigned', 1);
    expect(artifact.readUInt16LE(10)).toBe(0);
    expect(() => decodeModelFile(artifact, { publicKey: trainer.publicKey })).toThrow('model file is not signed');
  });

  test('a signing key file that is not a key fails the Job at once as a configuration error', async () => {
    const out = await job({ MODEL_NAME: 'badkey', DATABASE_URL: db.url, MODEL_SIGNING_KEY_FILE: join(dir, 'not-a-key') });
    expect(out.exitCode).toBe(EXIT.config);
  });
});
