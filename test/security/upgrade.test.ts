/**
 * An upgrade brings old tenants up to the database rules at `silo up`, without a manual
 * step (issue 16). A state as an older silo left it, made from a current one while the
 * stack is down: the embedded server registered on 127.0.0.1 (its admin URL too), no dump
 * roles nor their passwords, the catalogs and naming functions readable by PUBLIC in each
 * tenant database, no record of database rules. `silo up` then: the server listens on its
 * Unix socket only, each tenant has its dump role, its role lists no other tenant, and
 * the data is the same.
 */
import t from 'tap';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { startStack } from '../helpers/stack.js';
import { serverUrl, tenantPassword } from '../helpers/resilience.js';
import { urlOptions } from '../helpers/postgres.js';
import { parsePgUrl, pgOptions } from '../../src/contract/pg-connect.js';
import { NAMING_FUNCTIONS, SERVER_WIDE_CATALOGS } from '../../src/postgres/tenant-session.js';
import { figures } from './hostile.js';

t.setTimeout(240_000);

const stack = await startStack(t);
const TENANTS = ['client1', 'client2'];
const before = await Promise.all(TENANTS.map(async (x) => (await stack.http(`${x}.localhost`, '/api/polls')).text));

/** A superuser session in one database, pinned (for the test's own setup and checks). */
async function admin<T>(database: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres({ ...urlOptions(serverUrl(stack)), database, max: 1, onnotice: () => {}, connection: { search_path: 'pg_catalog, pg_temp', role: 'none' } });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

await t.test('make the state an older silo left', async (t) => {
  for (const x of TENANTS) {
    await admin(x, async (sql) => {
      await sql.unsafe(`grant select on ${SERVER_WIDE_CATALOGS.join(', ')} to public`);
      for (const f of NAMING_FUNCTIONS) await sql.unsafe(`grant execute on function ${f} to public`);
      await sql.unsafe(`revoke all on ${['pg_catalog.pg_roles', 'pg_catalog.pg_database', 'pg_catalog.pg_shdescription', 'pg_catalog.pg_db_role_setting'].join(', ')} from ${x}_dump`);
    });
    await admin('postgres', (sql) => sql.unsafe(`revoke all on database ${x} from ${x}_dump; drop role ${x}_dump`));
    rmSync(join(stack.home, 'secrets', 'dump', `${x}.password`));
  }
  const down = await stack.cli(['down']);
  t.equal(down.code, 0, down.stderr);
  const file = join(stack.home, 'registry.json');
  const reg = JSON.parse(readFileSync(file, 'utf8'));
  const local = reg.servers.local;
  const url = parsePgUrl(serverUrl(stack));
  reg.servers.local = { kind: 'embedded', host: '127.0.0.1', port: local.port };
  for (const x of TENANTS) delete reg.tenants[x].databaseRules;
  writeFileSync(file, JSON.stringify(reg, null, 2));
  writeFileSync(join(stack.home, 'secrets', 'servers', 'local.url'), `postgres://postgres:${encodeURIComponent(url.password)}@127.0.0.1:${local.port}/postgres\n`);
});

await t.test('silo up brings every tenant up to the rules', async (t) => {
  const up = await stack.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.match(up.stdout, /client1: .*dump role/, `up says what it did: ${up.stdout.split('\n').filter((l) => /client\d:/.test(l)).join(' | ')}`);
  const url = parsePgUrl(serverUrl(stack));
  t.ok(url.host.startsWith('/'), `the admin URL names the socket folder now (${url.host})`);
  t.equal(JSON.parse(readFileSync(join(stack.home, 'registry.json'), 'utf8')).servers.local.host, url.host, 'and so does the registry');
  const after = await Promise.all(TENANTS.map(async (x) => (await stack.http(`${x}.localhost`, '/api/polls')).text));
  t.same(after, before, 'the data is the same, served over the socket');
  for (const x of TENANTS) {
    const asTenant = postgres({ ...pgOptions({ host: url.host, port: url.port }), database: x, username: x, password: tenantPassword(stack, x), max: 1, onnotice: () => {} });
    const listed = await asTenant`select count(*) from pg_catalog.pg_roles`.then(() => 'listed', (e: { code?: string }) => e.code);
    const named = await asTenant`select pg_catalog.pg_get_userbyid(10)`.then(() => 'named', (e: { code?: string }) => e.code);
    await asTenant.end();
    t.equal(listed, '42501', `${x}: pg_roles hidden again`);
    t.equal(named, '42501', `${x}: pg_get_userbyid revoked`);
    figures(t, `upgrade-${x}-catalogs`, listed === '42501' && named === '42501' ? 'refused' : 'succeeded');
  }
  const backup = await stack.cli(['tenant', 'backup', 'client1']);
  t.equal(backup.code, 0, `a backup works, as the dump role up made (${backup.stderr.trim()})`);
  const again = await stack.cli(['up']);
  t.notMatch(again.stdout, /dump role/, 'a second up has nothing to do');
});
