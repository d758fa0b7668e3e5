/**
 * Operations on one tenant never interleave: a restore holds the tenant while a remove
 * and a deploy of the same tenant are started; both wait (saying for whom, in one line)
 * and run only after it, and the stack ends consistent. And a remove that cannot take its
 * final backup (a full disk) puts the tenant back in service instead of leaving it
 * offline half-removed.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { siloBin, type CliResult } from '../helpers/silo-home.js';
import { inconsistencies } from '../helpers/consistency.js';
import { pollsApp } from '../helpers/polls-app.js';
import { serverUrl, withTenantDb } from '../helpers/resilience.js';

t.setTimeout(170_000);
const stack = await startStack(t);
const state = (name: string) => JSON.parse(readFileSync(join(stack.home, 'registry.json'), 'utf8')).tenants[name]?.state;

/** A silo command in the background: its result, and a wait for a line on its stderr. */
function background(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [siloBin, ...args], { env: { ...stack.env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  const said = async (re: RegExp) => {
    while (!re.test(stderr)) {
      if (child.exitCode !== null) throw new Error(`silo ${args.join(' ')} ended without saying ${re}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { pid: child.pid!, done, said };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!check()) throw new Error(`gave up waiting for ${what}`);
}

t.test('restore, remove and deploy of one tenant at once: the later two wait for the restore, then run one after the other', async (t) => {
  t.equal((await stack.cli(['tenant', 'create', 'acme'])).code, 0);
  t.equal((await stack.http('acme.localhost', '/api/polls', { method: 'POST', body: { question: 'Backed up?', choices: ['a', 'b'] } })).status, 201);
  t.equal((await stack.cli(['tenant', 'backup', 'acme'])).code, 0);
  const app = pollsApp(t, { version: '2.0.0' });

  const hold = join(stack.home, 'hold-restore');
  t.teardown(() => rmSync(hold, { force: true }));
  const restore = background(['tenant', 'restore', 'acme', '--latest', '--yes'], { SILO_TEST_HOLD_AT: 'restore:pg-restore', SILO_TEST_HOLD_FILE: hold });
  await until('the restore to reach pg-restore', () => existsSync(hold));

  const remove = background(['tenant', 'remove', 'acme', '--yes']);
  const deploy = background(['deploy', app, '--tenant', 'acme']);
  const waiting = new RegExp(`^silo: waiting for another silo command to finish \\(pid ${restore.pid}: silo tenant restore acme --latest --yes, since \\S+\\)$`, 'm');
  await remove.said(waiting);
  await deploy.said(waiting);
  t.pass('remove and deploy each say, in one line, that they wait for the restore');
  t.equal(state('acme'), 'ready', 'while the restore runs, the remove has not started (acme is not marked removing)');
  t.equal((await stack.http('acme.localhost', '/api/tenant')).json().tenant, 'acme', 'and acme serves');

  rmSync(hold);
  const [restored, removed, deployed] = await Promise.all([restore.done, remove.done, deploy.done]);
  t.equal(restored.code, 0, `restore: ${restored.stderr}`);
  t.equal(removed.code, 0, `remove after the restore (and its acme_previous): ${removed.stderr}`);
  if (deployed.code !== 0) t.match(deployed.stdout, /acme: FAILED: no tenant named "acme"/, 'deploy ran after the remove and found no tenant');
  else t.match(deployed.stdout, /acme: .* -> polls@2\.0\.0/, 'deploy ran between the restore and the remove');
  t.same(await inconsistencies(stack, ['acme']), []);
  const dbs = await withTenantDb(serverUrl(stack), 'postgres', (sql) => sql`select datname from pg_database where datname like 'acme%'`);
  t.same(dbs, [], 'no acme database left, acme_previous included');
});

t.test('a remove whose final backup fails on a full disk puts the tenant back in service and says why', { skip: process.getuid?.() !== 0 && 'mounting a small full file system needs root' }, async (t) => {
  t.equal((await stack.cli(['tenant', 'create', 'full'])).code, 0);
  t.equal((await stack.cli(['tenant', 'backup', 'full'])).code, 0);
  const dir = join(stack.home, 'backups', 'full');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'silo-test-full', dir]);
  let mounted = true;
  const unmount = () => {
    if (mounted) execFileSync('umount', [dir]);
    mounted = false;
  };
  t.teardown(unmount);
  execFileSync('sh', ['-c', `dd if=/dev/zero of=${dir}/filler bs=4k 2>/dev/null || true`]);

  const r = await stack.cli(['tenant', 'remove', 'full', '--yes']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^silo: removing "full" stopped at backup \(.*\); nothing was dropped and it is back in service \(its worker and route are up again\)\n$/);
  t.equal(state('full'), 'ready');
  t.equal((await stack.http('full.localhost', '/api/tenant')).json().tenant, 'full', 'it answers through the proxy');
  t.same(await inconsistencies(stack, ['acme']), [], 'worker, route, role and database as before');

  unmount();
  const removed = await stack.cli(['tenant', 'remove', 'full', '--yes']);
  t.equal(removed.code, 0, removed.stderr);
  t.same(await inconsistencies(stack, ['acme', 'full']), []);
});
