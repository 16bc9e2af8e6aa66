/**
 * The recommend API's access settings from both sides: what the operator passes on from its own
 * SERVING_* variables (and the API-keys Secret), the API reads and accepts.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { RECOMMEND_API_ENV, RECOMMEND_API_SERVING_SETTINGS, apiKeysSecretRef, servingSettingsFrom } from '@netflicks/contracts';
import { deployment, type RecommenderModel } from '@netflicks/operator';
import { apiConfigSchema, loadApiConfig } from '@netflicks/recommend-api';

const model = parse(readFileSync(new URL('../../examples/recommendermodel.yaml', import.meta.url), 'utf8')) as RecommenderModel;

type Container = { env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]; ports: { name: string; containerPort: number }[] };

describe('the recommend API access settings', () => {
  test('every setting the operator passes on is one the API reads', () => {
    const read = Object.keys(apiConfigSchema.shape);
    for (const name of [...RECOMMEND_API_SERVING_SETTINGS, RECOMMEND_API_ENV.apiKeys]) expect({ name, read: read.includes(name) }).toEqual({ name, read: true });
  });

  test('SERVING_* variables and the API-keys Secret become API settings the API accepts', () => {
    const operatorEnv = {
      SERVING_AUTH_MODE: 'api-key,jwt',
      SERVING_JWT_JWKS_URL: 'https://login.example.com/.well-known/jwks.json',
      SERVING_JWT_ISSUER: 'https://login.example.com/',
      SERVING_JWT_AUDIENCE: 'netflicks',
      SERVING_METRICS_PORT: '9464',
      SERVING_RATE_LIMIT_RPS: '50',
      SERVING_MAX_CONNECTIONS: ' ',
      SERVING_FAST_TRANSPORT: 'false',
      SERVING_DATABASE_URL: 'postgres://not-passed-on/db',
    };
    const settings = servingSettingsFrom(operatorEnv);
    expect(Object.keys(settings)).toEqual(['AUTH_MODE', 'JWT_JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'METRICS_PORT', 'RATE_LIMIT_RPS', 'FAST_TRANSPORT']);
    const secret = apiKeysSecretRef('netflicks-api-keys');
    expect(secret).toEqual({ name: 'netflicks-api-keys', key: 'api-keys' });
    expect(apiKeysSecretRef('keys/clients')).toEqual({ name: 'keys', key: 'clients' });
    const dep = deployment(model, 4, { ...settings, API_KEYS: { secretKeyRef: secret! } }) as unknown as { spec: { template: { spec: { containers: Container[] } } } };
    const c = dep.spec.template.spec.containers[0];
    expect(c.env.find((e) => e.name === 'API_KEYS')).toEqual({ name: 'API_KEYS', valueFrom: { secretKeyRef: { name: 'netflicks-api-keys', key: 'api-keys' } } });
    // What the kubelet resolves the Secret references to.
    const resolved = Object.fromEntries(c.env.map((e) => [e.name, e.value ?? (e.name === 'API_KEYS' ? 'app:sha256:' + 'ab'.repeat(32) : 'postgres://db/netflicks')]));
    const cfg = loadApiConfig(resolved);
    expect(cfg.AUTH_MODE).toEqual(['api-key', 'jwt']);
    expect(cfg.RATE_LIMIT_RPS).toBe(50);
    expect(cfg.FAST_TRANSPORT).toBe(false);
    expect(c.ports.find((p) => p.name === 'metrics')?.containerPort).toBe(cfg.METRICS_PORT);
  });
});
