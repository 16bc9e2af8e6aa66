/**
 * Shared helpers of the packaging tests (test/helm) and the monitoring tests (test/monitoring):
 * where helm and the other tools are, a renderable copy of the chart, and the rendered objects.
 *
 * Tools are never downloaded here: test/k8s/build.sh builds helm, test/helm/tools.sh installs
 * hadolint, the prometheus-operator CRDs and kube-state-metrics, Debian's `prometheus` package
 * provides promtool and prometheus. When one is missing the test FAILS under CI and is skipped
 * locally, by name, with the command that installs it (test/support/skip.ts).
 *
 * kube-prometheus-stack: the chart declares it as a dependency, which `helm template` insists on
 * finding in charts/ even when its condition is false, and its registry is unreachable from the
 * test machines. stageChart() therefore renders a copy of the chart with a STUB dependency (a
 * Chart.yaml with the pinned name and version, no templates): our own templates render exactly as
 * with the real one, and no third-party chart code is committed or fetched.
 */
import { constants } from 'node:fs';
import { access, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { waitForCrdsEstablished, type TestKube } from '../support/kube.js';
import { runProcess, type ProcessResult } from '../support/process.js';
import { skipOrFail } from '../support/skip.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART_DIR = join(ROOT, 'charts/netflicks');
export const CI_VALUES_DIR = join(CHART_DIR, 'ci');
export const TOOLS_SCRIPT = join(ROOT, 'test/helm/tools.sh');
export const K8S_BUILD_SCRIPT = join(ROOT, 'test/k8s/build.sh');

export type RunResult = ProcessResult;

export function run(cmd: string, args: string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return runProcess(cmd, args, { ...opts, cwd: opts.cwd ?? ROOT, timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** Throws with the command's output unless it exited 0; resolves to stdout. */
export async function ok(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`.slice(0, 8000));
  return r.stdout;
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `KEY=VALUE` lines of a `paths` subcommand. */
async function pathsOf(script: string): Promise<Record<string, string>> {
  const out = await ok(script, ['paths']);
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

export interface Tools {
  helm: string;
  hadolint: string;
  promtool: string;
  prometheus: string;
  kubeStateMetrics: string;
  shellcheck: string;
  /** Directory of the prometheus-operator CRD YAML files. */
  prometheusOperatorCrds: string;
}

const HINTS: Record<keyof Tools, string> = {
  helm: 'npm run helm:build',
  hadolint: 'test/helm/tools.sh hadolint',
  promtool: 'apt-get install -y prometheus',
  prometheus: 'apt-get install -y prometheus',
  kubeStateMetrics: 'test/helm/tools.sh ksm',
  shellcheck: 'apt-get install -y shellcheck',
  prometheusOperatorCrds: 'test/helm/tools.sh crds',
};

let toolPaths: Promise<Tools> | undefined;
export function tools(): Promise<Tools> {
  toolPaths ??= (async () => {
    const k8s = await pathsOf(K8S_BUILD_SCRIPT);
    const t = await pathsOf(TOOLS_SCRIPT);
    return {
      helm: process.env.NETFLICKS_HELM || join(k8s.HELM_BIN, 'helm'),
      hadolint: t.HADOLINT,
      promtool: process.env.NETFLICKS_PROMTOOL || '/usr/bin/promtool',
      prometheus: process.env.NETFLICKS_PROMETHEUS || '/usr/bin/prometheus',
      kubeStateMetrics: t.KUBE_STATE_METRICS,
      shellcheck: process.env.NETFLICKS_SHELLCHECK || '/usr/bin/shellcheck',
      prometheusOperatorCrds: t.PROMETHEUS_OPERATOR_CRDS,
    };
  })();
  return toolPaths;
}

/**
 * The named tools, or null (skip) when one is missing outside CI. Under CI a missing tool throws,
 * so a suite can never pass by skipping there.
 */
export async function requireTools<K extends keyof Tools>(purpose: string, ...names: K[]): Promise<Pick<Tools, K> | null> {
  const all = await tools();
  const missing: K[] = [];
  for (const name of names) {
    const path = all[name];
    const present = name === 'prometheusOperatorCrds' ? (await readdir(path).catch(() => [])).some((f) => f.endsWith('.yaml')) : await executable(path);
    if (!present) missing.push(name);
  }
  if (missing.length === 0) return Object.fromEntries(names.map((n) => [n, all[n]])) as Pick<Tools, K>;
  skipOrFail({
    suite: purpose,
    needs: missing.join(', '),
    enable: [...new Set(missing.map((n) => HINTS[n]))].join('; '),
    reason: `not found at ${missing.map((n) => all[n]).join(', ')}`,
  });
  return null;
}

export interface ChartDependency {
  name: string;
  version: string;
  repository: string;
  condition?: string;
}

export async function chartYaml(): Promise<{ name: string; version: string; appVersion: string; dependencies: ChartDependency[] }> {
  return parse(await readFile(join(CHART_DIR, 'Chart.yaml'), 'utf8'));
}

/**
 * A copy of the chart (symlinks resolved, as `helm package` does) with stub dependencies, in a
 * temp dir; `cleanup()` removes it.
 */
export async function stageChart(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'netflicks-chart-'));
  const dir = join(root, 'netflicks');
  await cp(CHART_DIR, dir, { recursive: true, dereference: true });
  await rm(join(dir, 'charts'), { recursive: true, force: true });
  for (const dep of (await chartYaml()).dependencies) {
    await mkdir(join(dir, 'charts', dep.name), { recursive: true });
    await writeFile(
      join(dir, 'charts', dep.name, 'Chart.yaml'),
      `# Test stub of the ${dep.name} dependency (no templates): see test/helm/support.ts.\napiVersion: v2\nname: ${dep.name}\nversion: ${dep.version}\n`,
    );
  }
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** ci/*-values.yaml: the default, production-like and minimal installs. */
export async function ciValuesFiles(): Promise<string[]> {
  return (await readdir(CI_VALUES_DIR)).filter((f) => f.endsWith('-values.yaml')).sort();
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0].message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  valuesFiles?: string[];
  set?: string[];
  extraArgs?: string[];
}

export async function helmTemplate(helm: string, chartDir: string, o: RenderOptions = {}): Promise<RunResult> {
  const args = ['template', o.release ?? 'nf', chartDir, '--namespace', o.namespace ?? 'netflicks'];
  for (const f of o.valuesFiles ?? []) args.push('--values', f);
  for (const s of o.set ?? []) args.push('--set', s);
  args.push(...(o.extraArgs ?? []));
  return run(helm, args);
}

export async function render(helm: string, chartDir: string, o: RenderOptions = {}): Promise<K8sObject[]> {
  const r = await helmTemplate(helm, chartDir, o);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}):\n${r.stderr}`);
  return parseManifests(r.stdout);
}

/** Every pod template in the rendered objects, with the object it belongs to. */
export function podSpecs(objects: K8sObject[]): { owner: K8sObject; spec: PodSpec; labels: Record<string, string> }[] {
  const out: { owner: K8sObject; spec: PodSpec; labels: Record<string, string> }[] = [];
  for (const o of objects) {
    const spec = (o as { spec?: { template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec } } }).spec;
    if (spec?.template?.spec) out.push({ owner: o, spec: spec.template.spec, labels: spec.template.metadata?.labels ?? {} });
  }
  return out;
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: unknown;
  livenessProbe?: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string }[];
}

/** The `spec.groups` of every rendered PrometheusRule, as one promtool rule file. */
export function ruleFile(objects: K8sObject[]): { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] } {
  const groups = objects.filter((o) => o.kind === 'PrometheusRule').flatMap((o) => (o.spec as { groups: never[] }).groups);
  return { groups };
}

/** Dashboard JSON documents from the rendered ConfigMaps labelled grafana_dashboard: "1". */
export function dashboards(objects: K8sObject[]): { configMap: string; file: string; json: Dashboard }[] {
  return objects
    .filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1')
    .flatMap((o) => Object.entries(o.data as Record<string, string>).map(([file, text]) => ({ configMap: o.metadata.name, file, json: JSON.parse(text) as Dashboard })));
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { type: string; uid: string }; legendFormat?: string; instant?: boolean }[];
  panels?: DashboardPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; query?: unknown; allValue?: string }[] };
}

/** Every panel expression of a dashboard, with its panel. */
export function panelExpressions(d: Dashboard): { panel: DashboardPanel; refId: string; expr: string }[] {
  const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((panel) => (panel.targets ?? []).map((t) => ({ panel, refId: t.refId, expr: t.expr })));
}

/** Our CRDs and the prometheus-operator's, applied server-side (they exceed the annotation limit), then Established. */
export async function installCrds(kube: Pick<TestKube, 'ok' | 'kubectl'>, prometheusOperatorCrds: string): Promise<void> {
  for (const dir of [join(ROOT, 'crds'), prometheusOperatorCrds]) {
    await kube.ok(['apply', '--server-side', '--force-conflicts', '--field-manager=netflicks-tests', '-f', dir], { timeoutMs: 120_000 });
  }
  await waitForCrdsEstablished(kube, [
    'recommendermodels.netflicks.dev',
    'trainingruns.netflicks.dev',
    'servicemonitors.monitoring.coreos.com',
    'podmonitors.monitoring.coreos.com',
    'prometheusrules.monitoring.coreos.com',
  ]);
}

/* Dockerfile ------------------------------------------------------------------------------ */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Instructions (continuations joined, comments dropped) grouped into stages; global ARGs apart. */
export function parseDockerfile(text: string): { directives: string[]; globalArgs: Instruction[]; stages: Stage[] } {
  const lines = text.split('\n');
  const directives: string[] = [];
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  let i = 0;
  while (i < lines.length && /^#\s*\w+=/.test(lines[i])) directives.push(lines[i++].replace(/^#\s*/, ''));
  for (; i < lines.length; i++) {
    const start = i;
    let text_ = lines[i];
    if (/^\s*(#|$)/.test(text_)) continue;
    while (text_.endsWith('\\') && i + 1 < lines.length) {
      i++;
      if (/^\s*#/.test(lines[i])) continue;
      text_ = `${text_.slice(0, -1).trimEnd()} ${lines[i].trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(text_);
    if (!m) throw new Error(`Dockerfile line ${start + 1} does not parse: ${text_}`);
    const ins = { keyword: m[1].toUpperCase(), args: m[2].trim(), line: start + 1 };
    if (ins.keyword === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!f) throw new Error(`FROM on line ${ins.line} does not parse`);
      stages.push({ name: f[2] ?? String(stages.length), from: f[1], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`${ins.keyword} before the first FROM (line ${ins.line})`);
      globalArgs.push(ins);
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { directives, globalArgs, stages };
}

