/**
 * A broken app is one line at `silo up` and `silo tenant create`, before anything starts:
 * no tenant registered, no PM2 daemon, no database server left running.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSiloHome } from '../helpers/silo-home.js';

function app(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'silo-badapp-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const migrations = { 'migrations/0001_x.sql': 'create table x (id int);' };
const apps: [string, Record<string, string>, RegExp][] = [
  ['missing export', { 'index.js': "export const name = 'x';", ...migrations }, /does not export plugin \(a Fastify plugin function\), migrationsDir/],
  [
    'plugin that throws at registration',
    { 'index.js': "export default { name: 'x', plugin: async () => { throw new Error('no API key configured') }, migrationsDir: new URL('./migrations/', import.meta.url).pathname };", ...migrations },
    /its plugin fails at registration: no API key configured/,
  ],
  ['missing migrations folder', { 'index.js': "export const name = 'x'; export async function plugin() {} export const migrationsDir = new URL('./migrations/', import.meta.url).pathname;" }, /migrations folder .* does not exist/],
  ['badly named migration', { 'index.js': "export const name = 'x'; export async function plugin() {} export const migrationsDir = new URL('./migrations/', import.meta.url).pathname;", 'migrations/first.sql': 'select 1;' }, /migrations: migration file first\.sql .* is not named NNNN_name\.sql/],
  ['import error', { 'index.js': "import 'not-installed-anywhere'; export const name = 'x';" }, /cannot import .*not-installed-anywhere/],
  ['TypeScript entry', { 'package.json': '{"main": "index.ts"}', 'index.ts': 'export const name: string = "x";' }, /is TypeScript: compile it \(tsc\)/],
];

t.test('a broken app is one clear line, and nothing starts', async (t) => {
  const silo = await makeSiloHome(t, { startDatabase: false });
  for (const [label, files, expected] of apps) {
    const dir = app(files);
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    for (const args of [['up'], ['tenant', 'create', 'acme']]) {
      const r = await silo.cli(args, { SILO_APP: dir });
      t.equal(r.code, 1, `${label}: silo ${args.join(' ')} exits 1`);
      t.match(r.stderr, /^silo: app \//, `${label}: names the app`);
      t.match(r.stderr, expected, `${label}: says what is wrong`);
      t.equal(r.stderr.trim().split('\n').length, 1, `${label}: one line (${r.stderr.trim()})`);
      t.equal(r.stdout, '');
    }
  }
  const missing = await silo.cli(['up'], { SILO_APP: 'no-such-package' });
  t.match(missing.stderr, /^silo: app no-such-package: not a folder, and no package of that name is installed/);
  const gone = await silo.cli(['up'], { SILO_MIGRATIONS_DIR: '/x' });
  t.match(gone.stderr, /SILO_MIGRATIONS_DIR is gone: set SILO_APP/);

  const registry = join(silo.cfg.home, 'registry.json');
  const tenants = existsSync(registry) ? Object.keys(JSON.parse(readFileSync(registry, 'utf8')).tenants) : [];
  t.same(tenants, [], 'no tenant registered');
  t.notOk(existsSync(join(silo.cfg.home, 'pm2', 'pm2.pid')), 'no PM2 daemon started');
});
