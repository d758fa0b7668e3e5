/**
 * What silo makes directly in a state folder, in one list (isHomeEntry): `silo down --purge`
 * takes a folder without registry.json for a state folder only when it holds nothing else.
 * Read from the sources, so a new folder made at the top of a home joins the list.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homePaths, isHomeEntry } from '../../src/common/paths.js';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

t.test('every path of homePaths starts with a name of the list', async (t) => {
  for (const [key, p] of Object.entries(homePaths('/h'))) {
    const path = typeof p === 'function' ? p('x') : p;
    if (path === '/h') continue;
    const top = path.slice('/h/'.length).split('/')[0]!;
    t.ok(isHomeEntry(top), `${key}: ${top}`);
  }
});

t.test('every name the sources join to a home is in the list', async (t) => {
  // join(home, 'x'), join(cfg.home, `x-${...}`), join(resolve(home), 'x'), `${cfg.home}/x`
  // (a Unix user's home, `user.home`, is not one)
  const use = /join\((?:resolve\()?(?:[\w.]*cfg\.)?home\)?, (['`])([^'`/$]+)(\$\{)?|\$\{(?:[\w.]*cfg\.)?home\}\/([^'`/$]+)/g;
  const names = new Set<string>();
  for (const file of sources(src)) {
    for (const m of readFileSync(file, 'utf8').matchAll(use)) names.add(m[2] ? m[2] + (m[3] ? 'point' : '') : m[4]!);
  }
  t.ok(names.size >= 10, `found ${[...names].join(', ')}`);
  for (const name of names) t.ok(isHomeEntry(name), name);
});

t.test("the registry's temporary files are silo's; anyone else's files are not", async (t) => {
  t.ok(isHomeEntry('registry.json.4242.1765000000000.tmp'));
  for (const name of ['thesis.tex', '.git', 'Documents', 'registry.json.bak', 'node_modules']) t.notOk(isHomeEntry(name), name);
});
