/**
 * The daemon's modules form no import cycle (type-only imports included): a cycle once made
 * fast-path.ts look its entries up lazily, and handlers reached the server through it. Leaves
 * such as context.ts (the types handlers see) keep it so; this test fails on a new cycle and
 * names it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const SRC = path.join(__dirname, '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The module a relative specifier names: `x.ts` or `x/index.ts`. */
function resolve(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base + '.ts', path.join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  throw new Error(`${path.relative(SRC, from)} imports '${spec}', which is not a module of daemon/src`);
}

/** Every relative import of every module (`import ... from './x'`, `export ... from`, `import x = require('./x')`). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const specifier = /(?:\bfrom\s+|\brequire\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const modules = [...text.matchAll(specifier)].map((m) => m[1]).filter((spec) => !spec.endsWith('.json'));
    graph.set(file, modules.map((spec) => resolve(file, spec)));
  }
  return graph;
}

/** One cycle of the graph as a path of files (first = last), or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | null => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(file, 'done');
    return null;
  };
  for (const file of graph.keys()) {
    if (state.get(file) === undefined) {
      const found = visit(file);
      if (found) return found;
    }
  }
  return null;
}

test('daemon/src has no import cycle', () => {
  const cycle = findCycle(importGraph());
  assert.equal(cycle, null, `import cycle: ${cycle?.map((f) => path.relative(SRC, f)).join(' -> ')}`);
});

test('the cycle check finds a cycle when there is one', () => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', []],
  ]);
  assert.deepEqual(findCycle(graph), ['a', 'b', 'c', 'a']);
  assert.equal(findCycle(new Map([['a', ['b']], ['b', []]])), null);
});

test('context.ts, the types handlers see, imports nothing of the daemon but config types', () => {
  const graph = importGraph();
  const deps = graph.get(path.join(SRC, 'context.ts'))!.map((f) => path.relative(SRC, f));
  assert.deepEqual(deps, ['config.ts']);
  assert.deepEqual(graph.get(path.join(SRC, 'config.ts')), []);
});
