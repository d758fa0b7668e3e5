/**
 * Provisioning against a real embedded PostgreSQL: idempotent creation, and what a
 * tenant role can and cannot do.
 */
import t from 'tap';
import { statSync, readFileSync, readdirSync } from 'node:fs';
import postgres from 'postgres';
import { makeSiloHome } from '../helpers/silo-home.js';
import { createTenant } from '../../src/tenant/create.js';
import { readRegistry, updateRegistry } from '../../src/registry/registry.js';
import { homePaths } from '../../src/common/paths.js';
import { tenantCredentials } from '../../src/servers/tenant-credentials.js';
import { connectAdmin } from '../../src/postgres/admin.js';
import { connectAs } from '../../src/postgres/tenant-session.js';
import { urlOptions } from '../helpers/postgres.js';

t.test('tenant provisioning', async (t) => {
  const silo = await makeSiloHome(t);
  const { cfg } = silo;
  const paths = homePaths(cfg.home);

  await t.test('create makes a ready tenant; a second create is a no-op', async (t) => {
    const first = await createTenant(cfg, 'acme');
    t.equal(first.created, true);
    t.equal(first.entry.state, 'ready');
    t.equal(first.entry.schemaVersion, 1);
    const second = await createTenant(cfg, 'acme');
    t.equal(second.created, false);
    t.same(second.entry, first.entry);
    // Under root the password belongs to the tenant's own Unix user (0400) and the folders
    // on the way can be entered, not listed (0711); otherwise 0600 in 0700.
    const root = process.getuid?.() === 0;
    t.equal(statSync(paths.tenantPassword('acme')).mode & 0o777, root ? 0o400 : 0o600);
    t.equal(statSync(paths.secrets).mode & 0o777, root ? 0o711 : 0o700);
    t.equal(statSync(paths.serverUrl('local')).mode & 0o777, 0o600, 'the admin URL stays 0600');
    const password = readFileSync(paths.tenantPassword('acme'), 'utf8').trim();
    t.notMatch(readFileSync(paths.registry, 'utf8'), password, 'the registry holds no password');
  });

  await t.test('two tenants get distinct ports on the least-loaded server', async (t) => {
    const b = await createTenant(cfg, 'globex');
    const reg = readRegistry(paths.registry);
    t.not(b.entry.port, reg.tenants.acme!.port);
    t.equal(b.entry.server, 'local');
  });

  await t.test('a tenant role reaches its own database only and cannot escalate', async (t) => {
    const reg = readRegistry(paths.registry);
    const acme = tenantCredentials(cfg, reg, 'acme');
    const own = connectAs(acme);
    t.teardown(() => own.end());
    const [me] = await own`select current_user as u, current_database() as d`;
    t.same(me, { u: 'acme', d: 'acme' });

    for (const database of ['globex', 'postgres', 'template1']) {
      const other = connectAs({ ...acme, database });
      await t.rejects(other`select 1`, { code: '42501' }, `cannot connect to ${database}`);
      await other.end();
    }
    await t.rejects(own.unsafe('create database sneaky'), { code: '42501' }, 'cannot create a database');
    await t.rejects(own.unsafe('create role sneaky'), { code: '42501' }, 'cannot create a role');
    await t.rejects(own`select * from pg_authid`, { code: '42501' }, 'cannot read pg_authid');
    await t.rejects(own.unsafe('alter role acme superuser'), { code: '42501' }, 'cannot make itself superuser');
    const admin = connectAdmin(silo.adminUrl);
    t.teardown(() => admin.end());
    const [flags] = await admin`select rolsuper, rolcreatedb, rolcreaterole, rolconnlimit from pg_roles where rolname = 'acme'`;
    t.match(flags, { rolsuper: false, rolcreatedb: false, rolcreaterole: false });
    t.ok(flags!.rolconnlimit > 0, 'a connection limit is set');
  });

  await t.test("a tenant role cannot list the server's databases, roles or sessions (other tenants' names)", async (t) => {
    const own = connectAs(tenantCredentials(cfg, readRegistry(paths.registry), 'acme'));
    t.teardown(() => own.end());
    for (const [what, query] of [
      ['databases', 'select datname from pg_database'],
      ['roles', 'select rolname from pg_roles'],
      ['users', 'select usename from pg_user'],
      ['role memberships', 'select roleid from pg_auth_members'],
      ['sessions', 'select usename, datname from pg_stat_activity'],
      ['database statistics', 'select datname from pg_stat_database'],
    ]) {
      await t.rejects(own.unsafe(query!), { code: '42501' }, `${what}: permission denied`);
    }
    const [mine] = await own`select current_database() as d, (select count(*)::int from polls) >= 0 as works`;
    t.same(mine, { d: 'acme', works: true }, 'its own database and tables work as before');
  });

  await t.test('a creation interrupted after the role was made completes on re-run', async (t) => {
    // Simulate a crash: the registry says provisioning and only the role exists.
    const admin = connectAdmin(silo.adminUrl);
    t.teardown(() => admin.end());
    await updateRegistry(paths.registry, (r) => {
      r.tenants.halfway = { server: 'local', port: 40999, domains: [], state: 'provisioning', schemaVersion: 0, createdAt: new Date().toISOString() };
    });
    await admin.unsafe(`create role halfway login password 'whatever'`);
    await admin.unsafe(`comment on role halfway is 'silo tenant'`);
    const done = await createTenant(cfg, 'halfway');
    t.equal(done.entry.state, 'ready');
    t.equal(done.entry.port, 40999, 'keeps the port it had recorded');
    const own = connectAs(tenantCredentials(cfg, readRegistry(paths.registry), 'halfway'));
    const [row] = await own`select max(version) as v from silo_migrations`;
    t.equal(row!.v, 1);
    await own.end();
  });

  await t.test('silo refuses to adopt a role it did not create', async (t) => {
    const admin = connectAdmin(silo.adminUrl);
    t.teardown(() => admin.end());
    await admin.unsafe(`create role someoneelse login`);
    await t.rejects(createTenant(cfg, 'someoneelse'), /already exists on this server and was not created by silo/);
    t.notOk(readRegistry(paths.registry).tenants.someoneelse, 'the refused name is not registered, so a re-run cannot adopt the role');
    await t.rejects(createTenant(cfg, 'someoneelse'), /already exists on this server and was not created by silo/, 'refused again');
  });

  await t.test('a database made by a creation that died before marking it is adopted on re-run', async (t) => {
    const admin = connectAdmin(silo.adminUrl);
    t.teardown(() => admin.end());
    // A crash between CREATE DATABASE and its COMMENT: the registry holds it as provisioning.
    await updateRegistry(paths.registry, (r) => {
      r.tenants.unmarked = { server: 'local', port: 40998, domains: [], state: 'provisioning', schemaVersion: 0, createdAt: new Date().toISOString() };
    });
    await admin.unsafe(`create role unmarked login`);
    await admin.unsafe(`create database unmarked owner unmarked`);
    const done = await createTenant(cfg, 'unmarked');
    t.equal(done.entry.state, 'ready');
    const [c] = await admin`select shobj_description(oid, 'pg_database') as c from pg_database where datname = 'unmarked'`;
    t.equal(c!.c, 'silo tenant', 'now marked as silo\'s');
  });

  await t.test('invalid names create nothing', async (t) => {
    const before = readFileSync(paths.registry, 'utf8');
    const secretsBefore = readdirSync(`${paths.secrets}/tenants`).sort();
    for (const name of ['Acme', 'a', '-x', 'x_y', 'template1', 'postgres', 'x'.repeat(64), "x'; drop table y; --"]) {
      await t.rejects(createTenant(cfg, name), /invalid tenant name/, name);
    }
    t.equal(readFileSync(paths.registry, 'utf8'), before);
    t.same(readdirSync(`${paths.secrets}/tenants`).sort(), secretsBefore);
    const admin = postgres({ ...urlOptions(silo.adminUrl),  max: 1, onnotice: () => {} });
    const roles = await admin`select rolname from pg_roles where rolname !~ '^pg_' and rolname !~ '_dump$' order by 1`;
    const dumpRoles = await admin`select rolname from pg_roles where rolname ~ '_dump$' order by 1`;
    await admin.end();
    t.same(roles.map((r) => r.rolname), ['acme', 'globex', 'halfway', 'postgres', 'someoneelse', 'unmarked']);
    t.same(dumpRoles.map((r) => r.rolname), ['acme_dump', 'globex_dump', 'halfway_dump', 'unmarked_dump'], 'a dump role per tenant, none for the refused names');
  });
});
