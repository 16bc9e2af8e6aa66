/**
 * The developer and delivery workflow files, which cannot run here (no Docker, no kind, no
 * Jenkins): their structure and their agreement with the Dockerfile, the chart and the examples.
 * - skaffold.yaml: one artifact per Dockerfile target, the helm deployer's setValueTemplates name
 *   real chart values (helm renders them through the schema), the kind profile's patches resolve,
 *   port-forwards point at the API and Grafana Services the install creates.
 * - scripts/kind-{up,down}.sh: shellcheck-clean, small, doing the whole workflow in order.
 * - Jenkinsfile: declarative, Kubernetes agent, the delivery stages in order, credentials, reports.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, ROOT, parseDockerfile, render, requireTools, run, stageChart } from './support.js';

const t = await requireTools('workflow checks', 'helm', 'shellcheck');
const describeTools = t ? describe : describe.skip;

const skaffold = parse(await readFile(join(ROOT, 'skaffold.yaml'), 'utf8'));
const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8'));
const targets = parseDockerfile(await readFile(join(ROOT, 'Dockerfile'), 'utf8'))
  .stages.map((s) => s.name)
  .filter((n) => !['build', 'prod-deps', 'runtime'].includes(n));
/** Skaffold's template variable suffix for an image name. */
const sanitized = (image: string): string => image.replace(/[^A-Za-z0-9]/g, '_');
/** images.<key> in values.yaml of a Dockerfile target: recommend-api -> recommendApi. */
const valuesKey = (target: string): string => target.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function pointer(doc: unknown, path: string): unknown {
  return path
    .split('/')
    .slice(1)
    .reduce<unknown>((node, key) => {
      if (node === undefined || node === null) return undefined;
      return (node as Record<string, unknown>)[key.replace(/~1/g, '/').replace(/~0/g, '~')];
    }, doc);
}

describe('skaffold.yaml', () => {
  test('is a Skaffold v2 Config that builds every Dockerfile target, never pushing `latest`', () => {
    expect(skaffold.apiVersion).toMatch(/^skaffold\/v4beta\d+$/);
    expect(skaffold.kind).toBe('Config');
    expect(targets).toEqual(['operator', 'recommend-api', 'ingest', 'evaluator', 'simulator', 'trainer']);
    expect(skaffold.build.artifacts).toEqual(targets.map((target) => ({ image: `netflicks-${target}`, docker: { dockerfile: 'Dockerfile', target } })));
    expect(skaffold.build.tagPolicy).toEqual({ gitCommit: { variant: 'AbbrevCommitSha', prefix: 'git-' } });
    // The image names are the chart's default repositories.
    for (const target of targets) expect([target, values.images[valuesKey(target)].repository]).toEqual([target, `netflicks-${target}`]);
  });

  test('deploys charts/netflicks with the helm deployer, every image set from the build', () => {
    const releases = skaffold.deploy.helm.releases;
    expect(releases).toHaveLength(1);
    const [release] = releases;
    expect(release).toMatchObject({ name: 'netflicks', chartPath: 'charts/netflicks', namespace: 'netflicks', createNamespace: true });
    const expected: Record<string, string> = {};
    for (const target of targets) {
      const key = valuesKey(target);
      const v = sanitized(`netflicks-${target}`);
      expected[`images.${key}.repository`] = `{{.IMAGE_REPO_${v}}}`;
      expected[`images.${key}.tag`] = `{{.IMAGE_TAG_${v}}}@{{.IMAGE_DIGEST_${v}}}`;
    }
    expect(release.setValueTemplates).toEqual(expected);
  });

  test('the kind profile loads instead of pushing and its patches resolve in the base config', () => {
    const profiles = skaffold.profiles as { name: string; activation: unknown; patches: { op: string; path: string; value: unknown }[] }[];
    expect(profiles.map((p) => p.name)).toEqual(['kind', 'local', 'offline-chart']);
    const [kind] = profiles;
    expect(kind.activation).toEqual([{ kubeContext: 'kind-netflicks' }]);
    for (const p of kind.patches) {
      expect([p.path, p.op]).toEqual([p.path, 'replace']);
      expect([p.path, pointer(skaffold, p.path) !== undefined]).toEqual([p.path, true]);
    }
    expect(kind.patches.find((p) => p.path === '/build/local/push')?.value).toBe(false);
    const templates = kind.patches.find((p) => p.path === '/deploy/helm/releases/0/setValueTemplates')?.value as Record<string, string>;
    for (const target of targets) expect(templates[`images.${valuesKey(target)}.tag`]).toBe(`{{.IMAGE_TAG_${sanitized(`netflicks-${target}`)}}}`);
  });

  test('port-forwards the recommend API of the chart\'s model and Grafana', () => {
    expect(skaffold.portForward).toEqual([
      { resourceType: 'service', resourceName: `${values.model.name}-api`, namespace: 'netflicks', port: 80, localPort: 8082 },
      { resourceType: 'service', resourceName: 'netflicks-grafana', namespace: 'netflicks', port: 80, localPort: 3000 },
    ]);
  });
});

describeTools('workflow files with their tools', () => {
  test('every setValueTemplates key is a real chart value: helm renders them through the schema', async () => {
    const { dir, cleanup } = await stageChart();
    try {
      for (const templates of [skaffold.deploy.helm.releases[0].setValueTemplates, skaffold.profiles[0].patches[1].value] as Record<string, string>[]) {
        // What skaffold would pass, with plausible build outputs in place of the template variables.
        const set = Object.entries(templates).map(([k, v]) => `${k}=${v.replace(/\{\{\.IMAGE_REPO_(\w+)\}\}/g, 'localhost:5000/$1').replace(/\{\{\.IMAGE_TAG_\w+\}\}/g, 'abc123').replace(/\{\{\.IMAGE_DIGEST_\w+\}\}/g, `sha256:${'0'.repeat(64)}`)}`);
        const objects = await render(t!.helm, dir, { release: 'netflicks', set });
        const operator = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'netflicks-operator') as { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined;
        expect(operator?.spec.template.spec.containers[0].image).toMatch(/^localhost:5000\/netflicks_operator:abc123(@sha256:0{64})?$/);
      }
    } finally {
      await cleanup();
    }
  });

  test.each(['scripts/kind-up.sh', 'scripts/kind-down.sh'])('%s is shellcheck-clean', async (script) => {
    const r = await run(t!.shellcheck, ['--severity=style', '--enable=all', '--exclude=SC2250,SC2312', script]);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('scripts/kind-up.sh', () => {
  test('is small and does the whole workflow in order: cluster, images, chart, training, promotion, API, Grafana', async () => {
    const script = await readFile(join(ROOT, 'scripts/kind-up.sh'), 'utf8');
    expect(script.split('\n').length).toBeLessThanOrEqual(60);
    expect(script).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(script).toContain('set -euo pipefail');
    const steps = [
      'kind create cluster',
      'docker build --target "$target"',
      'kind load docker-image',
      'helm dependency build charts/netflicks',
      'helm upgrade --install netflicks charts/netflicks',
      'kubectl -n "$NS" apply -f examples/trainingrun.yaml',
      'Promoted) break',
      'recommendermodel/movies --for=condition=Ready',
      "curl -fsS --retry 10 --retry-connrefused --retry-delay 1 'http://127.0.0.1:8082/recommend/42?k=5'",
      'port-forward svc/netflicks-grafana 3000:80',
    ];
    const at = steps.map((s) => script.indexOf(s));
    expect(steps.filter((_, i) => at[i] < 0)).toEqual([]);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // Every Dockerfile target is built and loaded.
    expect(script).toContain(`for target in ${targets.join(' ')}; do`);
    // It waits for the TrainingRun the example defines.
    const example = parse(await readFile(join(ROOT, 'examples/trainingrun.yaml'), 'utf8'));
    expect(script).toContain(`RUN=${example.metadata.name} `);
    expect(example.spec.modelRef.name).toBe(values.model.name);
  });

  test('kind-down deletes the same cluster', async () => {
    const up = await readFile(join(ROOT, 'scripts/kind-up.sh'), 'utf8');
    const down = await readFile(join(ROOT, 'scripts/kind-down.sh'), 'utf8');
    expect(up).toContain('CLUSTER=${KIND_CLUSTER:-netflicks}');
    expect(down).toContain('kind delete cluster --name "${KIND_CLUSTER:-netflicks}"');
  });
});

describe('Jenkinsfile', () => {
  const text = readFile(join(ROOT, 'Jenkinsfile'), 'utf8');

  test('is a declarative pipeline on a Kubernetes agent, daily and on commit', async () => {
    const j = await text;
    expect(j).toMatch(/^pipeline \{$/m);
    expect(j).toMatch(/agent \{\n\s+kubernetes \{/);
    expect(j).toMatch(/triggers \{\n\s+cron\('H 2 \* \* \*'\)\n\s+\}/);
    // Balanced braces: a cheap guard against a broken edit (Groovy itself is not available here).
    const code = j.replace(/'''[\s\S]*?'''/g, '').replace(/'[^'\n]*'/g, "''").replace(/"[^"\n]*"/g, '""').replace(/\/\/.*$/gm, '');
    expect((code.match(/\{/g) ?? []).length).toBe((code.match(/\}/g) ?? []).length);
  });

  test('has the delivery stages, in order', async () => {
    const stages = [...(await text).matchAll(/^\s+stage\('([^']+)'\)/gm)].map((m) => m[1]);
    expect(stages).toEqual([
      'Install',
      'Lint and typecheck',
      'Unit tests',
      'Integration tests',
      'Build images',
      'Helm lint',
      'Deploy',
      'Train',
      'Promote and deploy',
      'Smoke test',
      'Monitoring check',
    ]);
  });

  test('trains through a TrainingRun, waits for Validated, then Promoted; builds every target', async () => {
    const j = await text;
    expect(j).toContain('examples/trainingrun.yaml');
    expect(j).toContain('--for=condition=Validated');
    expect(j).toContain('--for=condition=Promoted');
    expect(j).toContain(`for (target in [${targets.map((x) => `'${x}'`).join(', ')}])`);
    expect(j).toContain("for f in charts/netflicks/ci/*-values.yaml; do helm lint --strict charts/netflicks --values \"$f\"; done");
  });

  test('secrets come from Jenkins credentials; JUnit reports and artifacts are archived', async () => {
    const j = await text;
    expect(j).toContain('withCredentials([');
    expect(j).toContain("usernamePassword(credentialsId: 'netflicks-registry'");
    expect(j).toContain("file(credentialsId: 'netflicks-staging-kubeconfig'");
    expect(j).toContain("string(credentialsId: 'netflicks-staging-database-url'");
    expect(j).not.toMatch(/postgres(ql)?:\/\/[^$'"\s]+:[^$'"\s]+@/);
    expect(j).toMatch(/post \{\n\s+always \{\n\s+junit /);
    expect(j).toContain('archiveArtifacts');
  });
});
