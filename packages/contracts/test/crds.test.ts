/** The CRDs are YAML, so they cannot import the contract: this checks they agree with it. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ALGORITHM_NAMES, DEFAULT_HOLDOUT, HYPERPARAMETER_KEYS } from '../src/index.js';

type Schema = { properties?: Record<string, Schema>; items?: Schema; enum?: string[]; pattern?: string; 'x-kubernetes-validations'?: { rule: string }[] };

/** The regular expression of a CEL `matches('…')`, unescaped as CEL reads it. */
function celRegex(rule: string): RegExp {
  const m = /matches\('((?:[^'\\]|\\.)*)'\)/.exec(rule);
  if (!m) throw new Error(`no matches('…') in ${rule}`);
  return new RegExp(m[1].replace(/\\\\/g, '\\'));
}

function specSchema(file: string): Schema {
  const crd = parse(readFileSync(new URL(`../../../crds/${file}`, import.meta.url), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
  };
  return crd.spec.versions[0].schema.openAPIV3Schema.properties?.spec as Schema;
}

const model = specSchema('netflicks.dev_recommendermodels.yaml').properties?.training as Schema;
const run = specSchema('netflicks.dev_trainingruns.yaml');

describe('the CRDs agree with the trainer Job contract', () => {
  test.each([
    ['RecommenderModel spec.training', model],
    ['TrainingRun spec', run],
  ])('%s: the same algorithms, and a holdout pattern that accepts the default', (_name, schema) => {
    expect(schema.properties?.algorithms.items?.enum).toEqual([...ALGORITHM_NAMES]);
    const holdout = new RegExp(schema.properties?.holdout.pattern as string);
    expect(holdout.test(DEFAULT_HOLDOUT)).toBe(true);
    expect(holdout.test('stratified:0.8')).toBe(true);
  });

  test.each([
    ['RecommenderModel spec.training', model],
    ['TrainingRun spec', run],
  ])('%s: every hyperparameter key the trainer knows passes the key rule', (_name, schema) => {
    const key = celRegex(schema.properties?.hyperparameters['x-kubernetes-validations']?.[0].rule as string);
    expect(HYPERPARAMETER_KEYS.length).toBeGreaterThan(10);
    expect(HYPERPARAMETER_KEYS.filter((k) => !key.test(k))).toEqual([]);
    expect(key.test('als.reg1')).toBe(false);
  });
});
