/**
 * The layering rules, checked on the source: workspace packages (packages/*) sit below the
 * services (services/*) and the operator; imports point down, never up and never round.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Workspace {
  name: string;
  dir: string;
  kind: 'package' | 'service' | 'operator';
  dependencies: string[];
}

function workspaces(): Workspace[] {
  const out: Workspace[] = [];
  for (const [parent, kind] of [['packages', 'package'], ['services', 'service']] as const) {
    for (const entry of readdirSync(join(ROOT, parent))) {
      const dir = join(parent, entry);
      if (existsSync(join(ROOT, dir, 'package.json'))) out.push(read(dir, kind));
    }
  }
  out.push(read('operator', 'operator'));
  return out;
}

function read(dir: string, kind: Workspace['kind']): Workspace {
  const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
  return { name: pkg.name, dir, kind, dependencies: Object.keys(pkg.dependencies ?? {}) };
}

function sourceFiles(dir: string): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Module specifiers of static imports, re-exports and dynamic imports (comments stripped). */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  for (const m of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]/g)) specs.push(m[1]);
  for (const m of code.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) specs.push(m[1]);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]);
  return specs;
}

/** The first cycle in a directed graph, as a path that ends where it starts; null if none. */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') return [...path.slice(path.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return null;
}

const all = workspaces();
const byName = new Map(all.map((w) => [w.name, w]));
const sources = new Map(all.map((w) => [w, sourceFiles(join(w.dir, 'src')).map((f) => ({ file: f, imports: importsOf(readFileSync(join(ROOT, f), 'utf8')) }))]));

/** Every workspace → workspace edge of the source, with the file it comes from. */
const edges = [...sources].flatMap(([from, files]) =>
  files.flatMap(({ file, imports }) => imports.flatMap((spec) => (byName.has(spec) ? [{ from, to: byName.get(spec) as Workspace, file }] : []))),
);

function allowed(from: Workspace, to: Workspace): string | null {
  if (from === to) return null;
  if (from.name === '@netflicks/contracts') return 'contracts depends on nothing but zod';
  if (from.kind === 'package' && to.kind !== 'package') return 'a package never imports a service or the operator';
  if (from.kind === 'operator' && to.kind !== 'package') return 'the operator imports packages only';
  if (from.name === '@netflicks/platform' && to.name === '@netflicks/data') return 'platform never imports data';
  return null;
}

describe('layering', () => {
  test('the parser finds every kind of import', () => {
    const src = "import a from 'x';\nimport type { B } from \"y\";\nexport * from './z.js';\nimport 'side';\n// import q from 'no'\nconst m = await import('dyn');\nexport { c } from '@n/c';";
    expect(importsOf(src).sort()).toEqual(['./z.js', '@n/c', 'dyn', 'side', 'x', 'y']);
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toBeNull();
  });

  test('the workspaces are where the rules expect them', () => {
    expect(all.find((w) => w.name === '@netflicks/contracts')?.kind).toBe('package');
    expect(all.find((w) => w.name === '@netflicks/trainer')?.kind).toBe('service');
    expect(edges.length).toBeGreaterThan(20);
  });

  test('no upward import in the source', () => {
    const violations = edges.flatMap((e) => {
      const why = allowed(e.from, e.to);
      return why ? [`${e.file} imports ${e.to.name}: ${why}`] : [];
    });
    expect(violations).toEqual([]);
  });

  test('no upward runtime dependency in package.json, and every imported workspace is declared', () => {
    const violations = all.flatMap((w) =>
      w.dependencies.flatMap((d) => {
        const to = byName.get(d);
        const why = to ? allowed(w, to) : null;
        return why ? [`${w.dir}/package.json depends on ${d}: ${why}`] : [];
      }),
    );
    const undeclared = edges.filter((e) => e.from !== e.to && !e.from.dependencies.includes(e.to.name)).map((e) => `${e.file} imports undeclared ${e.to.name}`);
    expect([...violations, ...new Set(undeclared)]).toEqual([]);
    expect(byName.get('@netflicks/contracts')?.dependencies).toEqual(['zod']);
  });

  test('no cycle between workspaces', () => {
    const graph = new Map(all.map((w) => [w.name, [...new Set(edges.filter((e) => e.from === w && e.to !== w).map((e) => e.to.name))]]));
    expect(findCycle(graph)).toBeNull();
  });

  test('no cycle between the files of a workspace', () => {
    const cycles: string[] = [];
    for (const [, files] of sources) {
      const graph = new Map(
        files.map(({ file, imports }) => [
          file,
          imports.filter((s) => s.startsWith('.')).map((s) => relative(ROOT, resolve(ROOT, dirname(file), s.replace(/\.js$/, '.ts')))),
        ]),
      );
      const cycle = findCycle(graph);
      if (cycle) cycles.push(cycle.join(' → '));
    }
    expect(cycles).toEqual([]);
  });
});
