/** The recommend-API Deployment's contract from both sides: what the operator sets, the API reads. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { EVENT_TOPICS } from '@netflicks/contracts';
import { deployment, type RecommenderModel } from '@netflicks/operator';
import { loadApiConfig, modelSourceSpec } from '@netflicks/recommend-api';

const model = parse(readFileSync(new URL('../../examples/recommendermodel.yaml', import.meta.url), 'utf8')) as RecommenderModel;

type Container = { env: { name: string; value?: string; valueFrom?: unknown }[]; ports: { containerPort: number }[] };

describe('the recommend-API Deployment', () => {
  test('serves the pinned live version on the port its probes use, publishing where the operator says', () => {
    const dep = deployment(model, 4, { KAFKA_BROKERS: 'kafka-0:9092,kafka-1:9092' }) as unknown as { spec: { template: { spec: { containers: Container[] } } } };
    const c = dep.spec.template.spec.containers[0];
    expect(c.env.map((e) => e.name)).toEqual(['MODEL_NAME', 'MODEL_VERSION', 'PORT', 'DATABASE_URL', 'KAFKA_BROKERS']);
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value ?? 'postgres://db/netflicks']));
    const cfg = loadApiConfig(env);
    expect(modelSourceSpec(cfg)).toEqual({ kind: 'registry-pinned', name: 'movies', version: 4 });
    expect(cfg.PORT).toBe(8082);
    expect(c.ports[0].containerPort).toBe(cfg.PORT);
    expect(cfg.KAFKA_BROKERS).toEqual(['kafka-0:9092', 'kafka-1:9092']);
    expect(cfg.KAFKA_TOPIC_RECOMMENDATIONS).toBe(EVENT_TOPICS.recommendationRequests);
  });
});
