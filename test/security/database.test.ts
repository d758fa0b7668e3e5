/**
 * Hostile tenant, database half (issue 16, invariant 11): code inside evil's worker, with
 * evil's role, owns evil's database. It plants what would make any superuser session in
 * there its own: a function, an operator `=` on oid and name, `to_regclass`,
 * `has_table_privilege` and `quote_ident` of its own in a schema put before pg_catalog
 * with `ALTER DATABASE evil SET search_path`, and a view in place of silo_migrations.
 * Each runs `trap.escalate()`: as a superuser it makes evil a superuser and runs
 * `COPY ... TO PROGRAM` to create a marker file; whoever runs it is logged.
 *
 * Then every routine operation that reads or writes evil's database runs: backup, repair
 * (with a revoke undone, so its superuser session has to run), migrate, move to a second
 * server, restore. After each: evil is not a superuser, the marker does not exist, no
 * role but evil's own ever ran its code, and evil still cannot read client1's data.
 * Also: evil's role cannot list other tenants' names through the catalogs or the
 * functions behind them.
 */
import t, { type Test } from 'tap';
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { EVIL, figures, hostileStack } from './hostile.js';
import { startTestPostgres, urlOptions } from '../helpers/postgres.js';
import { serverUrl } from '../helpers/resilience.js';

t.setTimeout(400_000);

const stack = await hostileStack(t);
if (!stack) process.exit(0);

const marker = `/tmp/silo-trojan-${process.pid}-${randomBytes(4).toString('hex')}`;
t.teardown(() => rmSync(marker, { force: true }));

// The program reads what COPY writes to it: \`touch\` did not, and when it had exited
// before PostgreSQL wrote the row, the COPY failed with "could not close pipe to external
// command: Broken pipe" (a clean-clone run), and the control below with it.
const TRAPS = `
  create schema if not exists trap;
  create table if not exists public.trojan_log (who text, at timestamptz default now());
  create or replace function trap.escalate() returns void language plpgsql set search_path = pg_catalog, public as $f$
  begin
    begin insert into public.trojan_log (who) values (current_user); exception when others then null; end;
    if current_setting('is_superuser') = 'on' then
      execute 'alter role ${EVIL} superuser';
      execute 'copy (select 1) to program ''cat > ${marker}''';
    end if;
  end $f$;
  create or replace function trap.eq_oid(a oid, b oid) returns boolean language plpgsql set search_path = pg_catalog as $f$
    begin perform trap.escalate(); return a operator(pg_catalog.=) b; end $f$;
  create or replace function trap.eq_name(a name, b name) returns boolean language plpgsql set search_path = pg_catalog as $f$
    begin perform trap.escalate(); return a operator(pg_catalog.=) b; end $f$;
  do $d$ begin
    create operator trap.= (leftarg = oid, rightarg = oid, function = trap.eq_oid);
    create operator trap.= (leftarg = name, rightarg = name, function = trap.eq_name);
  exception when duplicate_function then null; end $d$;
  create or replace function trap.to_regclass(text) returns regclass language plpgsql set search_path = pg_catalog as $f$
    begin perform trap.escalate(); return pg_catalog.to_regclass($1); end $f$;
  create or replace function trap.has_table_privilege(text, text, text) returns boolean language plpgsql set search_path = pg_catalog as $f$
    begin perform trap.escalate(); return pg_catalog.has_table_privilege($1, $2, $3); end $f$;
  create or replace function trap.quote_ident(text) returns text language plpgsql set search_path = pg_catalog as $f$
    begin perform trap.escalate(); return pg_catalog.quote_ident($1); end $f$;
  alter database ${EVIL} set search_path = trap, pg_catalog, public;
`;

async function plant(t: Test) {
  const r = await stack!.runAsEvil(`await sql.unsafe(${JSON.stringify(TRAPS)}); return 'planted'`);
  t.same(r, { result: 'planted' }, 'evil planted its traps');
}

/** Who ran evil's code: roles other than evil's own. */
async function foreignRunners(): Promise<string[]> {
  const r = await stack!.runAsEvil<{ who: string }[]>(`return await sql\`select distinct who from public.trojan_log where who <> current_user\``);
  return (r.result ?? []).map((x) => x.who);
}

/** After each operation: no escalation, no program ran, no foreign role ran evil's code, no reach into client1. */
async function held(t: Test, attack: string): Promise<void> {
  const superuser = await stack!.isSuperuser(EVIL);
  const programRan = existsSync(marker);
  const runners = await foreignRunners();
  const reach = await stack!.runAsEvil(`
    const o = sql.options;
    const other = postgres({ host: o.host[0], port: o.port[0], user: o.user, pass: o.pass, database: 'client1', max: 1, onnotice() {} });
    try { return await other\`select count(*)::int as n from polls\`; } finally { await other.end({ timeout: 1 }); }
  `);
  const authid = await stack!.runAsEvil('return await sql`select rolname from pg_catalog.pg_authid`');
  t.notOk(superuser, `${attack}: evil is not a superuser`);
  t.notOk(programRan, `${attack}: COPY TO PROGRAM never ran (no ${marker})`);
  t.same(runners, [], `${attack}: no role but evil ran evil's code`);
  t.ok(reach.error, `${attack}: evil still cannot open client1's database (${reach.error})`);
  t.ok(authid.error, `${attack}: evil still cannot read pg_authid`);
  const refused = !superuser && !programRan && runners.length === 0 && !!reach.error && !!authid.error;
  figures(t, attack, refused ? 'refused' : 'succeeded', runners.length ? { ranAs: runners.join(',') } : {});
}

/** A superuser session in evil's database that cannot be trapped (pinned like silo's own), for the test's setup only. */
async function pinnedAdmin<T>(fn: (sql: postgres.Sql) => Promise<T>, url = serverUrl(stack!)): Promise<T> {
  const sql = postgres({ ...urlOptions(url),  database: EVIL, max: 1, onnotice: () => {}, connection: { search_path: 'pg_catalog, pg_temp', role: 'none' } });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

await t.test("evil's role cannot list other tenants' names", async (t) => {
  const tries: [string, string][] = [
    ['catalog-pg_roles', 'select rolname from pg_catalog.pg_roles'],
    ['catalog-pg_database', 'select datname from pg_catalog.pg_database'],
    ['catalog-pg_stat_activity', 'select usename, datname, application_name from pg_catalog.pg_stat_activity'],
    ['catalog-pg_shdescription', 'select description from pg_catalog.pg_shdescription'],
    ['pg_get_userbyid', 'select pg_catalog.pg_get_userbyid(oid) from pg_catalog.generate_series(1, 20000) oid'],
    ['pg_stat_get_activity-null', 'select usesysid, datid, application_name from pg_catalog.pg_stat_get_activity(null)'],
    ['pg_stat_get_backend_idset', 'select pg_catalog.pg_stat_get_backend_userid(i) from pg_catalog.pg_stat_get_backend_idset() i'],
    ['pg_describe_object', "select pg_catalog.pg_describe_object('pg_catalog.pg_authid'::regclass, oid, 0) from pg_catalog.generate_series(1, 20000) oid"],
    ['pg_identify_object', "select (pg_catalog.pg_identify_object('pg_catalog.pg_authid'::regclass, oid, 0)).name from pg_catalog.generate_series(1, 20000) oid"],
  ];
  for (const [attack, query] of tries) {
    const r = await stack.runAsEvil(`return await sql.unsafe(${JSON.stringify(query)})`);
    t.equal(r.code, '42501', `${attack}: permission denied (${r.error ?? JSON.stringify(r.result).slice(0, 80)})`);
    figures(t, `list-names-${attack}`, r.code === '42501' ? 'refused' : 'succeeded');
  }
});

// Not refused, and said so: PostgreSQL checks no privilege on a type's output, and role
// names are tenant names (README). A todo assertion, so it shows without failing the suite.
await t.test('role names by oid through the regrole type', async (t) => {
  const r = await stack.runAsEvil<{ r: string }[]>(
    "return await sql`select oid::pg_catalog.regrole::text as r from pg_catalog.generate_series(16384, 100000) oid where oid::pg_catalog.regrole::text !~ '^[0-9]+$'`",
  );
  const names = (r.result ?? []).map((x) => x.r);
  figures(t, 'list-names-regrole', names.includes('client1') ? 'not-refused' : 'refused');
  t.notOk(names.includes('client1'), `listed: ${names.join(', ')}`, { todo: 'opaque role names would close this (README)' });
});

await t.test('trojan functions and operators, then a backup', async (t) => {
  await plant(t);
  const backup = await stack.cli(['tenant', 'backup', EVIL]);
  t.equal(backup.code, 0, `the backup is taken (${backup.stderr.trim()})`);
  await held(t, 'trojan-search-path-backup');
});

await t.test('a trojan view in place of silo_migrations, then a backup', async (t) => {
  const r = await stack.runAsEvil(`
    await sql.unsafe(\`
      alter table public.silo_migrations rename to silo_migrations_real;
      create function public.trojan_versions() returns setof int language plpgsql as $f$
        begin perform trap.escalate(); return query select version from public.silo_migrations_real; end $f$;
      create view public.silo_migrations as select v as version from public.trojan_versions() v;
    \`);
    return 'swapped';
  `);
  t.same(r, { result: 'swapped' });
  const backup = await stack.cli(['tenant', 'backup', EVIL, '--json']);
  t.equal(backup.code, 0, `still backed up (${backup.stderr.trim()})`);
  const listed = await stack.cli(['backup', 'list', '--tenant', EVIL, '--json']);
  const entries = JSON.parse(listed.stdout) as { schemaVersion: number | null }[];
  t.equal(entries.find((e) => e.schemaVersion === null) !== undefined, true, 'of unknown schema version: silo did not read the view');
  await held(t, 'trojan-view-backup');
  const back = await stack.runAsEvil(`
    await sql.unsafe('drop view public.silo_migrations; drop function public.trojan_versions(); alter table public.silo_migrations_real rename to silo_migrations');
    return 'restored';
  `);
  t.same(back, { result: 'restored' });
});

await t.test('repair, with a revoke undone so its superuser session has to run', async (t) => {
  await pinnedAdmin((sql) => sql.unsafe('grant select on pg_catalog.pg_roles to public'));
  const listed = await stack.runAsEvil('return (await sql`select count(*)::int as n from pg_catalog.pg_roles`)[0].n');
  t.ok(typeof listed.result === 'number', 'evil could list roles before the repair');
  const repair = await stack.cli(['tenant', 'repair', EVIL]);
  t.equal(repair.code, 0, repair.stderr);
  t.match(repair.stdout, /catalogs/, `repair says it fixed the catalogs: ${repair.stdout.trim().split('\n').join(' | ')}`);
  const after = await stack.runAsEvil('return await sql`select count(*) from pg_catalog.pg_roles`');
  t.equal(after.code, '42501', 'hidden again');
  await held(t, 'trojan-search-path-repair');
});

await t.test('migrate', async (t) => {
  const migrate = await stack.cli(['migrate']);
  t.equal(migrate.code, 0, migrate.stderr);
  await held(t, 'trojan-search-path-migrate');
});

await t.test('move to a second server', async (t) => {
  const pg2 = await startTestPostgres(t);
  const added = await stack.cli(['server', 'add', 'db2', pg2.adminUrl]);
  t.equal(added.code, 0, added.stderr);
  const moved = await stack.cli(['tenant', 'move', EVIL, '--to', 'db2']);
  t.equal(moved.code, 0, moved.stderr);
  await held(t, 'trojan-search-path-move');
  const onTarget = postgres(pg2.adminUrl, { max: 1, onnotice: () => {} });
  const [r] = await onTarget<{ s: boolean }[]>`select rolsuper as s from pg_roles where rolname = ${EVIL}`;
  await onTarget.end();
  t.equal(r?.s, false, 'evil is no superuser on the target either');
  // The database-level setting does not travel with a dump: plant it again on the target.
  await plant(t);
  const back = await stack.cli(['tenant', 'move', EVIL, '--to', 'local']);
  t.equal(back.code, 0, back.stderr);
  await held(t, 'trojan-search-path-move-back');
});

await t.test('restore', async (t) => {
  // A backup with evil's traps in it (a dump carries its functions and operators, not
  // the database's settings), restored into a database where the setting is planted again.
  const backup = await stack.cli(['tenant', 'backup', EVIL]);
  t.equal(backup.code, 0, backup.stderr);
  await plant(t);
  const restore = await stack.cli(['tenant', 'restore', EVIL, '--latest', '--yes']);
  t.equal(restore.code, 0, restore.stderr);
  await held(t, 'trojan-search-path-restore');
});

await t.test('control: the same traps do fire in a superuser session that is not pinned', async (t) => {
  await plant(t);
  // What silo's backup did before: an admin session in the tenant's database, unpinned.
  const sql = postgres({ ...urlOptions(serverUrl(stack)), database: EVIL, max: 1, onnotice: () => {} });
  try {
    await sql`select to_regclass('silo_migrations') is not null as found`;
  } finally {
    await sql.end({ timeout: 2 });
  }
  const escalated = await stack.isSuperuser(EVIL);
  const ran = existsSync(marker);
  await stack.asAdmin((a) => a.unsafe(`alter role ${EVIL} nosuperuser`));
  rmSync(marker, { force: true });
  t.ok(escalated, 'evil became a superuser: the traps above were real');
  t.ok(ran, 'and its COPY TO PROGRAM ran');
});
