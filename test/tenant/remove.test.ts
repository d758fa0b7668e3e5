/**
 * `silo tenant remove`: refuses without --yes, dumps first, and the dump restores into a
 * fresh database with the same rows.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
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
  for (const step of ['stop-worker', 'backup', 'drop-database', 'drop-role', 'unregister']) {
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
