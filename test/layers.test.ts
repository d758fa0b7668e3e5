/**
 * The layers of src/, read from the imports: a folder imports only folders below it (or
 * itself). The order, bottom first, is LAYERS below and the "Where things live" map of the
 * README. In-process: it reads the source files, nothing runs.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Bottom first; folders on one line are siblings and may not import each other. */
const LAYERS: string[][] = [
  ['contract'], // what the worker and the control plane share; imports nothing
  ['common'],
  ['registry'],
  ['events'], // the audit log and webhooks: every operation above appends to them
  ['isolation', 'migrate', 'app'],
  ['apps', 'postgres', 'proxy'],
  ['servers'],
  ['pm2'], // the one place that talks to PM2
  ['runtime'], // the runtime driver contract (pm2 | swarm): what runs one tenant's worker
  ['hibernate'], // the waker: started by the stack, starts workers through pm2/
  ['stack'],
  ['backup'], // backups: below tenant/ (remove takes a final backup)
  ['metrics'], // Prometheus collection: reads what every layer below records
  ['tenant'], // tenant operations
  ['control'], // the control API: tokens, jobs, endpoints calling the operations of tenant/ (console pages in control/console/)
  ['cli', 'testing'],
];

/** The tenant worker is its own process: it imports only these (and the control plane never imports it). */
const WORKER_MAY_IMPORT = new Set(['worker', 'contract', 'common', 'migrate', 'apps', 'app']);

const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

interface Edge {
  file: string;
  from: string;
  to: string;
  spec: string;
}

const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g;
const folderOf = (file: string) => relative(src, file).split('/')[0]!;
const files = sourceFiles(src);
const edges: Edge[] = [];
const bare = new Map<string, string[]>();
for (const file of files) {
  for (const m of readFileSync(file, 'utf8').matchAll(SPEC)) {
    const spec = m[2]!;
    if (!spec.startsWith('.')) {
      bare.set(spec, [...(bare.get(spec) ?? []), relative(src, file)]);
      continue;
    }
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(src + '/')) continue;
    const from = folderOf(file);
    const to = folderOf(target);
    if (from !== to) edges.push({ file: relative(src, file), from, to, spec });
  }
}

t.test('every folder of src/ has its place in the layer order', async (t) => {
  const folders = readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  t.same(folders.filter((f) => f !== 'worker' && !rank.has(f)), [], 'place a new folder in LAYERS (and in the README map)');
});

t.test('imports only go downwards', async (t) => {
  t.ok(edges.length > 50, `read ${edges.length} imports across folders`);
  const upward = edges
    .filter((e) => e.from !== 'worker' && e.to !== 'worker')
    .filter((e) => !(rank.get(e.to)! < rank.get(e.from)!))
    // Process entry points (`*-main.ts`) sit at the top, whatever folder holds them.
    .filter((e) => !e.file.endsWith('-main.ts'))
    .map((e) => `${e.file} imports ${e.spec} (${e.from} -> ${e.to})`);
  t.same(upward, [], 'no import goes up or sideways');
});

t.test('the control plane never imports src/worker/', async (t) => {
  const into = edges.filter((e) => e.to === 'worker').map((e) => `${e.file} imports ${e.spec}`);
  t.same(into, [], 'shared constants and types live in src/contract/');
});

t.test('the worker imports only the contract and what it needs', async (t) => {
  const out = edges.filter((e) => e.from === 'worker' && !WORKER_MAY_IMPORT.has(e.to)).map((e) => `${e.file} imports ${e.spec}`);
  t.same(out, []);
});

t.test('src/contract/ imports nothing of silo', async (t) => {
  t.same(edges.filter((e) => e.from === 'contract'), []);
});

t.test('PM2 is imported in one place', async (t) => {
  t.same(bare.get('pm2'), ['pm2/pm2.ts'], 'everyone else calls src/pm2/');
});

t.test('stack/ does not import tenant/, hibernate/ not stack/, backup/ not tenant/', async (t) => {
  for (const [a, b] of [['stack', 'tenant'], ['hibernate', 'stack'], ['backup', 'tenant'], ['common', 'isolation']] as const) {
    t.same(edges.filter((e) => e.from === a && e.to === b).map((e) => e.file), [], `${a} -> ${b}`);
  }
});
