/**
 * Invariant 8: under root, each tenant's worker runs as its own unprivileged Unix user
 * that reads its own password file and nothing of another tenant, the admin or the
 * registry. Each worker's identity (setpriv to its uid and gid, no extra groups) tries to
 * read every other secret, the registry, the backups and the other tenants' logs, and its
 * own password. Not under root: `silo status` says the workers share one user.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { siloStatus } from '../helpers/resilience.js';
import { lookupUser, processUid, SILO_IDS } from '../../src/isolation/os-users.js';
import { tenantUserName } from '../../src/isolation/tenant-user.js';

t.setTimeout(150_000);

const stack = await startStack(t);

if (process.getuid?.() !== 0) {
  const s = await siloStatus(stack);
  t.equal((JSON.parse(s.raw) as { workerUsers: string }).workerUsers, 'shared', 'not root: status says the workers share one user');
  const text = await stack.cli(['status']);
  t.match(text.stdout, /^workers: all share silo's Unix user/m);
  process.exit(0);
}

/** Every regular file below `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name));
}

/** Read a file as `uid`/`gid` with no supplementary groups: its content, or the error. */
function readAs(uid: number, gid: number, file: string): { ok: boolean; out: string } {
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'cat', file], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.status === 0 ? r.stdout : r.stderr.trim() };
}

await t.test('each worker runs as its own user, never root, with no extra groups', async (t) => {
  const s = await siloStatus(stack);
  const raw = JSON.parse(s.raw) as { workerUsers: string; tenants: { name: string; pid: number; user: string }[] };
  t.equal(raw.workerUsers, 'own', 'status says each worker has its own user');
  const text = await stack.cli(['status']);
  t.match(text.stdout, /^workers: each runs as its tenant's own Unix user$/m);
  const uids = new Set<number>();
  for (const w of raw.tenants) {
    const uid = processUid(w.pid)!;
    t.not(uid, 0, `${w.name}: not root`);
    t.equal(w.user, tenantUserName(stack.home, w.name), `${w.name}: runs as ${w.user}`);
    t.equal(lookupUser(w.user)!.uid, uid);
    t.ok(uid >= SILO_IDS.min && uid <= SILO_IDS.max && lookupUser(w.user)!.gid >= SILO_IDS.min, `${w.name}: uid ${uid} in silo's range, not Debian's 100-999 system range`);
    uids.add(uid);
    const procStatus = readFileSync(`/proc/${w.pid}/status`, 'utf8');
    t.equal(Number(/^Gid:\s+(\d+)/m.exec(procStatus)![1]), lookupUser(w.user)!.gid, `${w.name}: its own group`);
    const groups = /^Groups:[ \t]*(.*)$/m.exec(procStatus)![1]!.trim();
    t.same(groups.split(/\s+/).filter(Boolean).filter((g) => Number(g) !== lookupUser(w.user)!.gid), [], `${w.name}: no supplementary group`);
  }
  t.equal(uids.size, raw.tenants.length, 'one user per tenant');
});

await t.test("a worker's identity reads its own password and nothing of anyone else", async (t) => {
  const backup = await stack.cli(['tenant', 'backup', 'client2']);
  t.equal(backup.code, 0, 'a backup exists to try');
  const home = stack.home;
  const secrets = filesUnder(join(home, 'secrets'));
  const backups = filesUnder(join(home, 'backups'));
  const logs = filesUnder(join(home, 'logs'));
  t.ok(backups.length > 0 && secrets.length >= 3, `${secrets.length} secret files, ${backups.length} backup files`);
  let refused = 0;
  for (const tenant of ['client1', 'client2']) {
    const user = lookupUser(tenantUserName(home, tenant))!;
    const own = join(home, 'secrets', 'tenants', `${tenant}.password`);
    const mine = readAs(user.uid, user.gid, own);
    t.ok(mine.ok, `${tenant} reads its own password`);
    t.equal(mine.out.trim(), readFileSync(own, 'utf8').trim());
    t.equal((statSync(own).mode & 0o777).toString(8), '400', `${tenant}: its password file is 0400`);
    t.equal(statSync(own).uid, user.uid, `${tenant}: and its own`);
    const others = [
      ...secrets.filter((f) => f !== own),
      join(home, 'registry.json'),
      ...backups,
      ...logs.filter((f) => !f.includes(`tenant-${tenant}.`)),
    ];
    for (const file of others) {
      const r = readAs(user.uid, user.gid, file);
      t.notOk(r.ok, `${tenant} cannot read ${file.slice(home.length + 1)}`);
      t.match(r.out, /Permission denied/, 'EACCES');
      if (!r.ok) refused++;
    }
    const list = spawnSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'ls', join(home, 'secrets', 'tenants')], { encoding: 'utf8' });
    t.not(list.status, 0, `${tenant} cannot list the password files`);
  }
  t.comment(`refused ${refused} reads`);
});

await t.test('tenant create makes a user, tenant remove removes it', async (t) => {
  const name = tenantUserName(stack.home, 'acme');
  const created = await stack.cli(['tenant', 'create', 'acme']);
  t.equal(created.code, 0, created.stderr);
  t.ok(lookupUser(name), `${name} exists`);
  const s = await siloStatus(stack);
  const acme = (JSON.parse(s.raw) as { tenants: { name: string; pid: number }[] }).tenants.find((x) => x.name === 'acme')!;
  t.equal(processUid(acme.pid), lookupUser(name)!.uid, 'its worker runs as it');
  const r = await stack.http('acme.localhost', '/api/tenant');
  t.same(r.json(), { tenant: 'acme' }, 'and serves');
  const removed = await stack.cli(['tenant', 'remove', 'acme', '--yes']);
  t.equal(removed.code, 0, removed.stderr);
  t.notOk(lookupUser(name), `${name} is gone`);
  t.throws(() => execFileSync('id', [name], { stdio: 'pipe' }), 'id does not know it');
});
