import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package's folders by job, lowest first: a folder may import from its own layer and below
// (and from the shared files at the top of src/), never from above.
const LAYERS = ['kernels', 'data', 'training', 'models', 'evaluation', 'format', 'serving'];

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Relative imports of every file (type-only ones included), as paths under src/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/from\s+'(\.[^']+)\.js'/g)].map((m) => relative(src, resolve(dirname(file), `${m[1]}.ts`)));
    graph.set(relative(src, file), targets);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const found: string[] = [];
  const visit = (file: string, stack: string[]): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next, stack);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, []);
  return found;
}

const layerOf = (path: string): number => LAYERS.indexOf(path.split('/')[0]);

describe('recsys import graph', () => {
  const graph = importGraph();

  test('every relative import resolves to a source file', () => {
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((t) => !graph.has(t)).map((t) => `${file} -> ${t}`));
    expect(missing).toEqual([]);
  });

  test('has no import cycle', () => {
    expect(graph.size).toBeGreaterThan(30);
    expect(cycles(graph)).toEqual([]);
  });

  test('no folder imports from a folder above it; the shared top-level files import only data', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      if (file === 'index.ts') continue;
      const layer = layerOf(file);
      for (const t of targets) {
        const target = layerOf(t);
        const allowed = layer < 0 ? target < 0 || LAYERS[target] === 'data' : target <= layer;
        if (!allowed) upward.push(`${file} -> ${t}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
