// No two source files include or call each other in a cycle, directly or through others.
// Includes: a.c and a.h are one module; an #include "x.h" is an edge to module x. Calls: from the
// build's objects (nm), an undefined symbol that another object defines is an edge to it.
// Usage: node tools/check-cycles.mjs <build dir>
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const build = process.argv[2] ?? 'build';
const skip = (f) => /^(tests|bench)\//.test(f) || /fake_gemini|fuzz|console_assets|\.pb-c\./.test(f);
const git = (...a) => execFileSync('git', a, { encoding: 'utf8' }).split('\n').filter(Boolean);

function cycles(edges, nodes) { // Tarjan's strongly connected components of more than one node
  let n = 0;
  const index = new Map(), low = new Map(), stack = [], on = new Set(), found = [];
  const visit = (v) => {
    index.set(v, n); low.set(v, n); n++; stack.push(v); on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); } else if (on.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const c = [];
      let w;
      do { w = stack.pop(); on.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1) found.push(c.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return found;
}

const add = (edges, a, b) => { if (a !== b) (edges.get(a) ?? edges.set(a, new Set()).get(a)).add(b); };

// includes
const files = git('ls-files', '*.c', '*.h').filter((f) => !skip(f));
const mod = (f) => f.replace(/\.[ch]$/, '');
const mods = new Set(files.map(mod));
// a bare name is found next to the file, from the root, or anywhere in the same service (the
// edge's folders share an include path)
const service = (f) => /^services\/[^/]+\//.exec(f)?.[0] ?? '';
const byName = new Map();
for (const m of mods) {
  const k = `${service(m)}|${path.basename(m)}`;
  byName.set(k, byName.has(k) ? null : m); // ambiguous names resolve to nothing
}
const inc = new Map();
for (const f of files) {
  for (const m of readFileSync(f, 'utf8').matchAll(/^#include "([^"]+)"/gm)) {
    const near = mod(path.join(path.dirname(f), m[1]));
    const target = mods.has(near) ? near : mods.has(mod(m[1])) ? mod(m[1])
      : (m[1].includes('/') ? null : byName.get(`${service(f)}|${mod(m[1])}`) ?? null);
    if (target) add(inc, mod(f), target);
  }
}

// calls
const objs = execFileSync('find', [build, '-name', '*.c.o', '-path', '*CMakeFiles*'], { encoding: 'utf8' })
  .split('\n').filter(Boolean);
const defs = new Map(), uses = new Map();
for (const o of objs) {
  const src = path.relative(build, o).replace(/CMakeFiles\/[^/]+\.dir\//, '').replace(/\.c\.o$/, '');
  // skipped: tests, generated code, and objects a moved or deleted source left in the build
  if (skip(src) || uses.has(src) || !existsSync(`${src}.c`)) continue;
  const u = new Set();
  uses.set(src, u);
  for (const line of execFileSync('nm', [o], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*[0-9a-f]*\s+([A-Za-z])\s+(\S+)$/.exec(line);
    if (m && 'TDBR'.includes(m[1])) defs.set(m[2], src);
    else if (m && m[1] === 'U') u.add(m[2]);
  }
}
const calls = new Map();
for (const [src, u] of uses) for (const sym of u) if (defs.has(sym)) add(calls, src, defs.get(sym));

if (uses.size < 20) { console.error(`cycle check: only ${uses.size} objects under ${build}; build first`); process.exit(1); }
const bad = [...cycles(inc, mods).map((c) => `includes: ${c.join(' ')}`), ...cycles(calls, uses.keys()).map((c) => `calls: ${c.join(' ')}`)];
if (bad.length) { console.log('source files in a cycle:'); for (const b of bad) console.log(`  ${b}`); process.exit(1); }
console.log(`cycle check: ok (${mods.size} modules, ${uses.size} objects)`);
