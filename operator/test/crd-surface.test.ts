/**
 * What a RecommenderModel or TrainingRun can say about the pods the operator creates. The
 * operator's ServiceAccount creates them, so the CRDs expose no pod fields beyond the image (which
 * the operator's allow-list checks), the pull policy, resources and the database Secret's name:
 * no env, no valueFrom, no command, volumes or service account, no free-form object.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POD_FIELDS = ['env', 'envFrom', 'valueFrom', 'command', 'args', 'volumes', 'volumeMounts', 'serviceAccountName', 'automountServiceAccountToken', 'securityContext', 'hostNetwork', 'podTemplate', 'template'];

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  anyOf?: Schema[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
}

async function specSchema(file: string): Promise<Schema> {
  const crd = parse(await readFile(`${ROOT}crds/${file}`, 'utf8')) as { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } };
  return crd.spec.versions[0].schema.openAPIV3Schema.properties?.spec as Schema;
}

/** Every path under `spec` with what it allows: a field name, or "*" for a map's values. */
function paths(schema: Schema, at = 'spec'): { path: string; schema: Schema }[] {
  const out = [{ path: at, schema }];
  for (const [k, v] of Object.entries(schema.properties ?? {})) out.push(...paths(v, `${at}.${k}`));
  if (typeof schema.additionalProperties === 'object') out.push(...paths(schema.additionalProperties, `${at}.*`));
  if (schema.items) out.push(...paths(schema.items, `${at}[]`));
  return out;
}

describe.each(['netflicks.dev_recommendermodels.yaml', 'netflicks.dev_trainingruns.yaml'])('%s spec', (file) => {
  test('names no pod field', async () => {
    const found = paths(await specSchema(file)).filter((p) => POD_FIELDS.includes(p.path.split('.').at(-1) ?? ''));
    expect(found.map((p) => p.path)).toEqual([]);
  });

  test('keeps no unknown fields and has no untyped object: every map holds strings or quantities', async () => {
    const loose = paths(await specSchema(file)).filter(
      ({ schema: s }) =>
        s['x-kubernetes-preserve-unknown-fields'] === true ||
        s.additionalProperties === true ||
        (s.type === 'object' && !s.properties && typeof s.additionalProperties !== 'object') ||
        (typeof s.additionalProperties === 'object' && s.additionalProperties.type !== 'string' && !s.additionalProperties['x-kubernetes-int-or-string']),
    );
    expect(loose.map((p) => p.path)).toEqual([]);
  });
});

test('a RecommenderModel names two images (both checked by the allow-list) and a pull policy, nothing else image-like', async () => {
  const images = paths(await specSchema('netflicks.dev_recommendermodels.yaml')).filter((p) => /image/i.test(p.path.split(".").at(-1) ?? ""));
  expect(images.map((p) => p.path)).toEqual(['spec.image', 'spec.imagePullPolicy', 'spec.serving.image']);
});
