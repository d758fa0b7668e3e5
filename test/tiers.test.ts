/**
 * The test pyramid of scripts/tiers.js: every test file under test/ is in exactly one
 * tier, every rule there places at least one file, and the tiers together are what
 * `npm run test:all` (CI) runs. In-process: it lists files, nothing runs.
 */
import t from 'tap';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesOf, testFiles, tierOf, tierProblems, TIERS } from '../scripts/tiers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const files = testFiles(root);
const names = TIERS.map((tier) => tier.name);

t.test('every test file is in exactly one tier, and every rule places a file', async (t) => {
  t.ok(files.includes('test/tiers.test.ts'), 'the listing finds this file');
  t.same(tierProblems(files), [], 'scripts/tiers.js places every file once');
});

t.test('the tiers together are every test file: none drops out of CI', async (t) => {
  const union = names.flatMap((name) => filesOf(root, [name])).sort();
  t.same(union, files);
  t.same(filesOf(root, ['all']), files, '`all` is every file under test/');
  t.equal(new Set(union).size, union.length, 'no file in two tiers');
});

t.test('a file beats its folder, and a file in no folder of any tier has no tier', async (t) => {
  t.equal(tierOf('test/isolation/root-start.test.ts').tier, 'machines');
  t.equal(tierOf('test/isolation/tenant-users.test.ts').tier, 'quick');
  t.equal(tierOf('test/isolation/limits.test.ts').tier, 'stack');
  t.match(tierOf('test/somewhere-new/x.test.ts').problem, /in no tier: add it/);
  t.match(tierProblems([...files, 'test/somewhere-new/x.test.ts']).join('\n'), /somewhere-new/);
});

t.test('the quick tier is what `npm test` runs, and the stack end to end is in it', async (t) => {
  t.equal(names[0], 'quick');
  const quick: string[] = filesOf(root, ['quick']);
  for (const f of ['test/e2e/nginx.test.ts', 'test/tiers.test.ts', 'test/layers.test.ts']) t.ok(quick.includes(f), f);
});
