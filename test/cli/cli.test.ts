/**
 * The `silo` command as a user runs it: one-line errors with a non-zero exit, quiet
 * idempotent create, JSON listing, and no password in any output.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { makeSiloHome } from '../helpers/silo-home.js';
import { homePaths } from '../../src/common/paths.js';

t.test('silo tenant commands', async (t) => {
  // No database started by the test: the CLI starts the embedded server it needs and stops it.
  const silo = await makeSiloHome(t, { startDatabase: false });
  const paths = homePaths(silo.cfg.home);

  const first = await silo.cli(['tenant', 'create', 'acme']);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /^created tenant acme on server local: http:\/\/acme\.localhost:\d+\/ \(start the stack with silo up\)\n$/);
  const second = await silo.cli(['tenant', 'create', 'acme']);
  t.equal(second.code, 0);
  t.match(second.stdout, /^tenant acme already exists/);
  t.equal(second.stderr, '');

  const list = await silo.cli(['tenant', 'list', '--json']);
  t.equal(list.code, 0);
  const [acme] = JSON.parse(list.stdout);
  t.match(acme, { name: 'acme', server: 'local', state: 'ready', schemaVersion: 1, port: Number });

  const password = readFileSync(paths.tenantPassword('acme'), 'utf8').trim();
  for (const out of [first, second, list]) {
    t.notMatch(out.stdout + out.stderr, password, 'no password in output');
  }

  await t.test('bad input gets one line and a non-zero exit', async (t) => {
    const cases: [string[], RegExp][] = [
      [['tenant', 'create', 'Acme'], /^silo: invalid tenant name "Acme"/],
      [['tenant', 'create', 'a'], /^silo: invalid tenant name/],
      [['tenant', 'create', '--', '-x'], /^silo: invalid tenant name "-x"/],
      [['tenant', 'create', 'x_y'], /^silo: invalid tenant name/],
      [['tenant', 'create', 'template1'], /reserved/],
      [['tenant', 'create', 'postgres'], /reserved/],
      [['tenant', 'create', 'x'.repeat(64)], /^silo: invalid tenant name/],
      [['tenant', 'create', "x'; drop table y; --"], /^silo: invalid tenant name/],
      [['tenant', 'create', 'ok-name', '--server', 'nowhere'], /^silo: unknown server "nowhere"/],
      [['tenant', 'remove', 'ghost', '--yes'], /^silo: no tenant named "ghost"/],
      [['tenant', 'bogus'], /^silo: unknown command 'bogus'/],
      [['migrate', '--tenant', 'ghost'], /^silo: no tenant named "ghost"/],
      [['server', 'add', 'db2', 'mysql://x'], /^silo: not a postgres:\/\/ URL/],
    ];
    for (const [args, expected] of cases) {
      const r = await silo.cli(args);
      t.not(r.code, 0, args.join(' '));
      t.match(r.stderr, expected, args.join(' '));
      t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${args.join(' ')}`);
      t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const after = JSON.parse((await silo.cli(['tenant', 'list', '--json'])).stdout);
    t.same(after.map((x: { name: string }) => x.name), ['acme'], 'nothing was half-created');
  });

  await t.test('a bad environment is one clear line', async (t) => {
    const r = await silo.cli(['tenant', 'list'], { SILO_PROXY: 'apache' });
    t.equal(r.code, 1);
    t.match(r.stderr, /^silo: invalid configuration: .*SILO_PROXY/);
  });
});
