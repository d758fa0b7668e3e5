/**
 * `silo down --purge`: the way back. It says what it will remove, refuses without --yes
 * when nobody can confirm, and with --yes leaves nothing of the stack on the host: no
 * process, no tenant user or group, no control group, no state folder.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, processesOf } from '../helpers/stack.js';
import { homeCgroups, homeUsers } from '../../src/stack/purge.js';
import { detectCgroups } from '../../src/isolation/cgroups.js';

t.setTimeout(120_000);
const stack = await startStack(t);
const root = process.getuid?.() === 0;
const groups = () => readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')[0]!);

t.test('without --yes and without a terminal it refuses, after saying what it would remove', async (t) => {
  const users = homeUsers(stack.home);
  if (root) t.ok(['client1', 'client2'].every((n) => users.some((u) => u.endsWith(`-${n}`))), `under root, client1 and client2 have their own users (${users.join(', ')})`);
  if (root && detectCgroups().version !== 'unavailable') t.ok(homeCgroups(stack.home).length > 0, 'and control groups');
  const r = await stack.cli(['down', '--purge']);
  t.equal(r.code, 1);
  t.equal(r.stderr, 'silo: refusing to purge without --yes: there is no terminal to confirm on\n');
  t.match(r.stdout, new RegExp(`^silo down --purge removes everything silo made for ${stack.home}:\n`));
  t.match(r.stdout, /delete the folder .*: registry, secrets, databases and 0 backup\(s\), for good/);
  for (const u of users) t.match(r.stdout, u, `it names ${u}`);
  t.equal((await stack.http('client1.localhost', '/api/tenant')).json().tenant, 'client1', 'nothing was touched');
  t.ok(existsSync(stack.home));

  const alone = await stack.cli(['down', '--yes']);
  t.same([alone.code, alone.stderr], [1, 'silo: --yes goes with --purge (silo down alone keeps everything)\n']);
});

t.test('a folder that is not a silo state folder is never purged', async (t) => {
  const other = mkdtempSync(join(tmpdir(), 'not-silo-'));
  t.teardown(() => rmSync(other, { recursive: true, force: true }));
  writeFileSync(join(other, 'thesis.tex'), 'years of work');
  const r = await stack.cli(['down', '--purge', '--yes'], { SILO_HOME: other, PM2_HOME: join(other, 'pm2') });
  t.same([r.code, r.stderr], [1, `silo: ${other} does not look like a silo state folder (no registry.json): refusing to purge it\n`]);
  t.ok(existsSync(join(other, 'thesis.tex')));
});

t.test('with --yes it leaves nothing behind', async (t) => {
  const users = homeUsers(stack.home);
  const r = await stack.cli(['down', '--purge', '--yes']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`purged: nothing silo made for ${stack.home} is left on this host\n$`));
  t.same(processesOf(stack.home), [], 'no process');
  t.same(homeUsers(stack.home), [], 'no tenant user');
  t.same(groups().filter((g) => users.includes(g)), [], 'no group of those users');
  t.same(homeCgroups(stack.home), [], 'no control group');
  t.notOk(existsSync(stack.home), 'no state folder');

  const again = await stack.cli(['down', '--purge', '--yes']);
  t.equal(again.code, 0, `a second purge finds nothing to do (${again.stderr})`);
});
