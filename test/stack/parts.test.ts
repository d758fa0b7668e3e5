/**
 * The contract of a tenant's parts (src/stack/parts/), in-process: each part's check
 * reports a part broken on purpose, its ensure fixes it (and says so in words that follow
 * the check's), and after a removal every part's check says it is absent. Against a real
 * embedded PostgreSQL, without the stack (no PM2, no proxy: the worker and route parts
 * are covered by the create, repair and crash files).
 */
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSiloHome } from '../helpers/silo-home.js';
import { loadConfig, type SiloConfig } from '../../src/common/config.js';
import { homePaths } from '../../src/common/paths.js';
import { readRegistry, type TenantEntry } from '../../src/registry/registry.js';
import { openServer, type OpenServer } from '../../src/servers/servers.js';
import { createTenant } from '../../src/tenant/create.js';
import { removeTenant } from '../../src/tenant/remove.js';
import { dumpRoleName } from '../../src/postgres/tenant-session.js';
import { TENANT_PARTS, catalogs, connections, database, dumpRole, grants, passwordFile, role, schema, type PartContext } from '../../src/stack/parts/parts.js';

function partContext(cfg: SiloConfig, name: string, server?: () => Promise<OpenServer>): PartContext {
  const paths = homePaths(cfg.home);
  return {
    cfg,
    name,
    paths,
    reg: readRegistry(paths.registry),
    live: false,
    server: server ?? (() => Promise.reject(new Error('no server in this test'))),
  };
}

t.test('the parts come in the order they are made, each named once', async (t) => {
  const names = TENANT_PARTS.map((p) => p.name);
  t.same(names, [...new Set(names)], 'no name twice');
  t.ok(names.indexOf('role') < names.indexOf('dump-role'), 'the dump role is a member of the role');
  t.ok(names.indexOf('database') < names.indexOf('schema'), 'the schema lives in the database');
  t.ok(names.indexOf('schema') < names.indexOf('worker') && names.indexOf('worker') < names.indexOf('route'), 'a worker serves the schema, a route leads to the worker');
  for (const p of TENANT_PARTS) t.ok(['host', 'database', 'stack'].includes(p.where), `${p.name}: ${p.where}`);
});

t.test('password-file: missing, then a wrong mode, each reported by its check and fixed by its ensure; removed, missing again', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'silo-parts-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const c = partContext(loadConfig({ PATH: process.env.PATH, SILO_HOME: home }), 'acme');
  t.equal(await passwordFile.check(c), 'it was missing');
  t.equal(await passwordFile.ensure(c), 'a new password was written (the role follows)');
  t.equal(await passwordFile.check(c), undefined, 'as it should be after ensure');
  t.equal(await passwordFile.ensure(c), undefined, 'a second ensure has nothing to say');
  chmodSync(c.paths.tenantPassword('acme'), 0o644);
  t.equal(await passwordFile.check(c), 'its mode was 644');
  t.match(await passwordFile.ensure(c), /^now [46]00$/);
  t.equal(await passwordFile.check(c), undefined);
  await passwordFile.remove!(c);
  await passwordFile.remove!(c); // idempotent
  t.equal(await passwordFile.check(c), 'it was missing', 'absent after remove');
});

t.test('database parts: each broken on purpose, reported, fixed; after a removal every one is absent', async (t) => {
  const silo = await makeSiloHome(t);
  const { cfg } = silo;
  await createTenant(cfg, 'acme');
  const open = await openServer(cfg, readRegistry(homePaths(cfg.home).registry), 'local');
  t.teardown(() => open.release());
  const c = partContext(cfg, 'acme', async () => open);
  const sql = open.admin;

  for (const p of TENANT_PARTS.filter((p) => p.where === 'database')) t.equal(await p.check(c), undefined, `${p.name}: as it should be after create`);

  const cases: [typeof role, string, RegExp][] = [
    [role, 'alter role acme createdb connection limit 3', /^it had createdb; its connection limit was 3$/],
    [dumpRole, `alter role ${dumpRoleName('acme')} nologin`, /^its dump role could not read its database$/],
    [connections, 'alter database acme allow_connections false', /^it refused connections$/],
    [grants, 'grant connect on database acme to public', /^PUBLIC could connect$/],
  ];
  // A lost dump password file: a new password, which the dump role is given (pg_dump logs in with it).
  rmSync(homePaths(cfg.home).dumpPassword('acme'));
  t.equal(await dumpRole.check(c), 'its dump role had no password file');
  t.equal(await dumpRole.ensure(c), 'made');
  t.equal(await catalogs.check(c), undefined, 'the dump role logs in with its new password');
  for (const [part, breakIt, reported] of cases) {
    await sql.unsafe(breakIt);
    t.match(await part.check(c), reported, `${part.name}: its check reports it (${breakIt})`);
    await part.ensure(c);
    t.equal(await part.check(c), undefined, `${part.name}: fixed by its ensure`);
  }
  t.equal(await schema.check(c), undefined, 'the schema is current');

  await removeTenant(cfg, 'acme');
  const gone = partContext(cfg, 'acme', async () => open);
  t.equal(await database.check(gone), 'it was missing');
  t.equal(await role.check(gone), 'the role was missing');
  t.equal(await dumpRole.check(gone), 'its dump role had no password file');
  t.equal(await passwordFile.check(gone), 'it was missing');
  // A second removal of each part finds nothing to do.
  const removing: TenantEntry = { server: 'local', port: 1, domains: [], state: 'removing', schemaVersion: 1, createdAt: '', removal: { from: 'ready', startedAt: '' } };
  gone.reg = { ...gone.reg, tenants: { acme: removing } };
  for (const p of [database, dumpRole, role]) await t.resolves(Promise.resolve(p.remove!(gone)), `${p.name}: removing it again is a no-op`);
});
