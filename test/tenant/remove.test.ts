/**
 * `silo tenant remove`: refuses without --yes, dumps first, and the dump restores into a
 * fresh database with the same rows.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeSiloHome } from '../helpers/silo-home.js';
import { readRegistry } from '../../src/registry/registry.js';
import { homePaths } from '../../src/common/paths.js';
import { tenantCredentials } from '../../src/servers/tenant-credentials.js';
import postgres from 'postgres';
import { connectAdmin } from '../../src/postgres/admin.js';
import { connectAs } from '../../src/postgres/tenant-session.js';
import { findPgDump } from '../../src/postgres/pg-dump.js';
import { urlOptions } from '../helpers/postgres.js';
import { libpqEnv, parsePgUrl } from '../../src/contract/pg-connect.js';

t.test('remove backs up, drops and unregisters', async (t) => {
  const silo = await makeSiloHome(t);
  const paths = homePaths(silo.cfg.home);
  t.equal((await silo.cli(['tenant', 'create', 'acme'])).code, 0);

  const own = connectAs(tenantCredentials(silo.cfg, readRegistry(paths.registry), 'acme'));
  const [poll] = await own`insert into polls (question) values ('Tea or coffee?') returning id`;
  await own`insert into choices (poll_id, position, text, votes) values (${poll!.id}, 1, 'Tea', 2), (${poll!.id}, 2, 'Coffee', 5)`;
  await own.end();

  const refused = await silo.cli(['tenant', 'remove', 'acme']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^silo: refusing to remove tenant "acme" without --yes/);
  t.ok(readRegistry(paths.registry).tenants.acme, 'still registered');

  const unknown = await silo.cli(['tenant', 'remove', 'nobody', '--yes']);
  t.equal(unknown.code, 1);
  t.equal(unknown.stderr, 'silo: no tenant named "nobody"\n');

  const removed = await silo.cli(['tenant', 'remove', 'acme', '--yes']);
  t.equal(removed.code, 0, removed.stderr);
  const backup = /backup: (\S+)/.exec(removed.stdout)?.[1];
  t.ok(backup && existsSync(backup), 'a backup file was written');
  t.equal(statSync(backup!).mode & 0o777, 0o600, 'the backup is 0600');
  t.notOk(readRegistry(paths.registry).tenants.acme, 'unregistered');
  t.notOk(existsSync(paths.tenantPassword('acme')), 'its secret is gone');

  const admin = connectAdmin(silo.adminUrl);
  t.teardown(() => admin.end());
  t.same(await admin`select 1 from pg_database where datname = 'acme'`, [], 'database dropped');
  t.same(await admin`select 1 from pg_roles where rolname = 'acme'`, [], 'role dropped');

  // Restore the dump into a fresh database and compare rows.
  await admin.unsafe('create database restored');
  const pgRestore = await findPgDump(15, 'pg_restore');
  execFileSync(pgRestore, ['--no-owner', '--dbname=restored', backup!], {
    env: { PATH: process.env.PATH, ...libpqEnv(parsePgUrl(silo.adminUrl)), PGUSER: 'postgres', PGPASSWORD: parsePgUrl(silo.adminUrl).password },
  });
  const restored = postgres({ ...urlOptions(silo.adminUrl),  database: 'restored', max: 1, onnotice: () => {} });
  const rows = await restored`select p.question, c.text, c.votes from polls p join choices c on c.poll_id = p.id order by c.position`;
  await restored.end();
  t.same(rows.map((r) => [r.question, r.text, r.votes]), [['Tea or coffee?', 'Tea', 2], ['Tea or coffee?', 'Coffee', 5]]);
});

t.test('a removal killed at any step finishes on re-run, with exactly one backup', async (t) => {
  const silo = await makeSiloHome(t);
  const paths = homePaths(silo.cfg.home);
  const { readdirSync } = await import('node:fs');
  for (const step of ['remove-worker', 'backup', 'remove-database', 'remove-role', 'unregister']) {
    const name = `gone-${step}`;
    t.equal((await silo.cli(['tenant', 'create', name])).code, 0);
    const killed = await silo.cli(['tenant', 'remove', name, '--yes'], { SILO_TEST_CRASH_AT: `remove:${step}` });
    t.equal(killed.code, -1, `killed at ${step}`);
    t.equal(readRegistry(paths.registry).tenants[name]?.state, 'removing', `${step}: still registered, as removing`);
    const again = await silo.cli(['tenant', 'remove', name, '--yes']);
    t.equal(again.code, 0, `${step}: the re-run completes (${again.stderr})`);
    t.notOk(readRegistry(paths.registry).tenants[name], `${step}: unregistered`);
    const dumps = readdirSync(join(paths.backups, name));
    t.same(dumps.map((f) => f.replace(/^.*\./, '')).sort(), ['dump', 'json'], `${step}: one backup and its manifest entry (${dumps.join(', ')})`);
  }
  const admin = connectAdmin(silo.adminUrl);
  t.teardown(() => admin.end());
  t.same(await admin`select datname from pg_database where datname like 'gone-%'`, [], 'every database dropped');
  t.same(await admin`select rolname from pg_roles where rolname like 'gone-%'`, [], 'every role dropped');
});

t.test('a restored tenant is removed cleanly: what the restore replaced is dumped, then dropped with it', async (t) => {
  const silo = await makeSiloHome(t);
  const paths = homePaths(silo.cfg.home);
  t.equal((await silo.cli(['tenant', 'create', 'acme'])).code, 0);
  const own = connectAs(tenantCredentials(silo.cfg, readRegistry(paths.registry), 'acme'));
  await own`insert into polls (question) values ('In the backup')`;
  t.equal((await silo.cli(['tenant', 'backup', 'acme'])).code, 0);
  await own`insert into polls (question) values ('Written after the backup')`;
  await own.end();
  const restored = await silo.cli(['tenant', 'restore', 'acme', '--latest', '--yes']);
  t.equal(restored.code, 0, restored.stderr);
  t.match(restored.stdout, /kept as acme_previous/);

  const removed = await silo.cli(['tenant', 'remove', 'acme', '--yes']);
  t.equal(removed.code, 0, removed.stderr);
  t.notOk(readRegistry(paths.registry).tenants.acme, 'unregistered');
  const admin = connectAdmin(silo.adminUrl);
  t.teardown(() => admin.end());
  t.same(await admin`select datname from pg_database where datname like 'acme%'`, [], 'its database and acme_previous dropped');
  t.same(await admin`select rolname from pg_roles where rolname = 'acme'`, [], 'its role dropped');

  const list = JSON.parse((await silo.cli(['backup', 'list', '--tenant', 'acme', '--json'])).stdout) as { kind: string; file: string }[];
  t.same(list.map((b) => b.kind), ['final', 'replaced', 'manual'], 'the final dump is the newest; the replaced data is dumped too');
  // Nothing is lost: the replaced data comes back with restore --from.
  const back = await silo.cli(['tenant', 'restore', 'acme', '--from', list[1]!.file, '--yes']);
  t.equal(back.code, 0, back.stderr);
  const again = connectAs(tenantCredentials(silo.cfg, readRegistry(paths.registry), 'acme'));
  t.same((await again`select question from polls order by id`).map((r) => r.question), ['In the backup', 'Written after the backup']);
  await again.end();
});

t.test('a removal whose final backup fails (a full disk) drops nothing and puts the tenant back', { skip: process.getuid?.() !== 0 && 'mounting a small full file system needs root' }, async (t) => {
  const silo = await makeSiloHome(t);
  const paths = homePaths(silo.cfg.home);
  t.equal((await silo.cli(['tenant', 'create', 'acme'])).code, 0);
  t.equal((await silo.cli(['tenant', 'backup', 'acme'])).code, 0, 'its backups folder exists');
  // A full disk under the backups folder: a small tmpfs, filled up.
  const dir = join(paths.backups, 'acme');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'silo-test-full', dir]);
  let mounted = true;
  const unmount = () => {
    if (mounted) execFileSync('umount', [dir]);
    mounted = false;
  };
  t.teardown(unmount);
  execFileSync('sh', ['-c', `dd if=/dev/zero of=${dir}/filler bs=4k 2>/dev/null || true`]);

  const r = await silo.cli(['tenant', 'remove', 'acme', '--yes']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^silo: removing "acme" stopped at backup \(.*\); nothing was dropped and it is back in service\n$/);
  t.equal(r.stderr.split('\n').length, 2, 'one line');
  t.equal(readRegistry(paths.registry).tenants.acme?.state, 'ready', 'ready again, not left removing');
  const own = connectAs(tenantCredentials(silo.cfg, readRegistry(paths.registry), 'acme'));
  t.same(await own`select count(*)::int as n from polls`, [{ n: 0 }], 'its database and role are untouched');
  await own.end();

  unmount();
  const removed = await silo.cli(['tenant', 'remove', 'acme', '--yes']);
  t.equal(removed.code, 0, `with room on the disk, the same command removes it (${removed.stderr})`);
});

t.test('repair names the check that threw and the checks that ran before it', async (t) => {
  const silo = await makeSiloHome(t, { startDatabase: false });
  t.equal((await silo.cli(['tenant', 'create', 'acme'])).code, 0);
  // An operator's bad edit of the stopped embedded server's settings: it cannot start.
  appendFileSync(join(homePaths(silo.cfg.home).pgData('local'), 'postgresql.auto.conf'), "shared_buffers = 'plenty'\n");
  const r = await silo.cli(['tenant', 'repair', 'acme']);
  t.equal(r.code, 1);
  const m = /^acme: FAILED at check (\S+) \(after (\d+) checks: ([^)]*)\): PostgreSQL did not start.*\n$/.exec(r.stdout);
  t.ok(m, `one line names the check and those before it: ${r.stdout}`);
  t.notMatch(r.stdout, /after 0 checks/);
  const json = JSON.parse((await silo.cli(['tenant', 'repair', 'acme', '--json'])).stdout);
  t.equal(m?.[1], 'role', 'the first check that needs the server');
  t.match(m?.[3], /registry, password-file, os-user/, 'the checks before it are named');
  t.match(json, [{ tenant: 'acme', ok: false, failedCheck: 'role' }]);
  t.same(json[0].findings.map((f: { check: string }) => f.check).join(', '), m?.[3], 'and listed in --json');
  t.equal(json[0].findings.length, Number(m?.[2]));
});
