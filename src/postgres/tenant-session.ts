/**
 * How silo talks to a database a tenant controls (invariant 11). The tenant's role owns
 * its database: it can create views, functions and operators that run with the rights
 * of whoever uses them, and `ALTER DATABASE <own> SET search_path` (or `role`) for every
 * later session. So the control plane never runs as a superuser in there, except for
 * the fixed revokes of `hardenTenantDatabase`, and every session it opens there:
 *
 * - is pinned through the connection's startup options (which beat `ALTER DATABASE SET`):
 *   `search_path` is pg_catalog then the session's own temporary schema, `role` is
 *   none (the login role), row security is off (a policy raises an error instead of
 *   running the tenant's functions);
 * - names what it reads fully qualified (operators resolve in pg_catalog, pinned first;
 *   the temporary schema is never searched for functions or operators), and reads a
 *   tenant's table only after checking its shape (a plain table, a plain integer
 *   column), so no tenant code runs in it.
 *
 * Three kinds of session, and what each is for:
 * - `tenantSession(login)`: reads and checks (schema version, row counts, "are the
 *   catalogs hidden"), as the tenant's own role or its dump role (`<name>_dump`, see
 *   tenant-ddl.ts), never a superuser: it refuses to go on if the login is one.
 * - `connectAs(login)`: the tenant's own role with the tenant's own settings, to run the
 *   app's migrations and seed: the tenant's code, with the tenant's rights.
 * - `hardenTenantDatabase(adminUrl, ...)`: the one superuser session, pinned, that runs
 *   REVOKE and GRANT statements on pg_catalog objects by qualified name and reads nothing.
 *
 * pg_dump and pg_restore never run as a superuser either (pg-dump.ts): pg_dump logs in as
 * the dump role, pg_restore as the tenant's role, both with `DUMP_PGOPTIONS`.
 */
import postgres, { type Sql } from 'postgres';
import { ident } from './admin.js';
import { parsePgUrl, pgOptions, type PgAddress } from '../contract/pg-connect.js';

const quiet = () => {};

/** A server's address (socket folder or host, TLS) and who logs in where. */
export interface DbLogin extends PgAddress {
  database: string;
  user: string;
  password: string;
}

/** Startup options of every session silo opens in a tenant database (not migrations). */
export const PINNED = { search_path: 'pg_catalog, pg_temp', role: 'none', row_security: 'off' } as const;

/** The same for libpq programs (pg_dump, pg_restore), as PGOPTIONS. */
export const DUMP_PGOPTIONS = '-c search_path=pg_catalog,pg_temp -c role=none';

/**
 * Views and catalogs that list every database, role or session of the server. PUBLIC
 * reads them by default, so a tenant role could list the other tenants' names. A worker
 * needs none of them (postgres.js reads pg_type; migrations their own table). Shared
 * catalogs keep their privileges per database (each database has its own pg_class row for
 * them), so this is done inside each tenant's database.
 */
export const SERVER_WIDE_CATALOGS = [
  'pg_catalog.pg_database',
  'pg_catalog.pg_roles',
  'pg_catalog.pg_user',
  'pg_catalog.pg_group',
  'pg_catalog.pg_auth_members',
  'pg_catalog.pg_db_role_setting',
  'pg_catalog.pg_shdescription',
  'pg_catalog.pg_stat_activity',
  'pg_catalog.pg_stat_database',
  'pg_catalog.pg_stat_database_conflicts',
];

/**
 * Functions that name other roles or describe other sessions (the views above are built
 * on them): `pg_get_userbyid(oid)`, `pg_stat_get_activity(NULL)` (every session's role,
 * database and application_name), the per-backend accessors, and the object describers
 * that answer "role client1" for an oid of pg_authid. Neither postgres.js, the sample
 * app's migrations nor pg_dump 15 (as the dump role) calls them (tested).
 */
export const NAMING_FUNCTIONS = [
  'pg_catalog.pg_get_userbyid(pg_catalog.oid)',
  'pg_catalog.pg_stat_get_activity(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_idset()',
  'pg_catalog.pg_stat_get_backend_pid(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_userid(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_dbid(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_activity(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_activity_start(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_xact_start(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_start(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_client_addr(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_client_port(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_wait_event(pg_catalog.int4)',
  'pg_catalog.pg_stat_get_backend_wait_event_type(pg_catalog.int4)',
  'pg_catalog.pg_describe_object(pg_catalog.oid, pg_catalog.oid, pg_catalog.int4)',
  'pg_catalog.pg_identify_object(pg_catalog.oid, pg_catalog.oid, pg_catalog.int4)',
  'pg_catalog.pg_identify_object_as_address(pg_catalog.oid, pg_catalog.oid, pg_catalog.int4)',
];

/**
 * What pg_dump 15 reads that the revokes above take from PUBLIC: role names for owners
 * (`SELECT oid, rolname FROM pg_roles`), its own database's row and comment. Granted in
 * the tenant's database to its dump role only (tested: with less, pg_dump stops).
 */
export const DUMP_CATALOGS = ['pg_catalog.pg_roles', 'pg_catalog.pg_database', 'pg_catalog.pg_shdescription', 'pg_catalog.pg_db_role_setting'];

/** The name of a tenant's dump role (`_` never occurs in a tenant name). */
export const dumpRoleName = (tenant: string) => `${tenant}_dump`;

/**
 * A session for reads and checks in a tenant database, as a role that is not a
 * superuser (checked before it is handed out; its pool reconnects as the same login).
 */
export async function tenantSession(login: DbLogin): Promise<Sql> {
  // postgres.js reads pg_type at connect (with `=` unqualified): pinned, that is pg_catalog's.
  const sql = postgres(oneSession(login, { application_name: 'silo-control', ...PINNED }));
  try {
    const [r] = await sql<{ s: string }[]>`select pg_catalog.current_setting('is_superuser') as s`;
    if (r?.s !== 'off') throw new Error(`refusing to read database "${login.database}" as "${login.user}": a superuser`);
    return sql;
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
}

/** Run `fn` in a `tenantSession`, closed afterwards. */
export async function withTenantSession<T>(login: DbLogin, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = await tenantSession(login);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** The tenant's own role with its own settings: for the app's migrations and seed only. */
export function connectAs(login: DbLogin): Sql {
  return postgres(oneSession(login, { application_name: 'silo-control' }));
}

/** postgres.js options of one short-lived control-plane session as `login`, with these startup settings. */
function oneSession(login: DbLogin, connection: Record<string, string>) {
  return {
    ...pgOptions(login),
    database: login.database,
    username: login.user,
    password: login.password,
    max: 1,
    onnotice: quiet,
    connect_timeout: 10,
    idle_timeout: 5,
    connection,
  };
}

/**
 * The one superuser session silo opens in a tenant's database: revoke from PUBLIC the
 * server-wide catalogs and the naming functions, and grant pg_dump's catalogs to the
 * tenant's dump role (which must exist). Fixed statements on pg_catalog objects, nothing
 * tenant-owned named or read, pinned as every session. Idempotent. On a server whose
 * admin is not a superuser PostgreSQL only warns: check with `hardeningProblems`.
 */
export async function hardenTenantDatabase(adminUrl: string, database: string, tenant: string): Promise<void> {
  const admin = parsePgUrl(adminUrl);
  const sql = postgres(oneSession({ ...admin, database }, { application_name: 'silo-harden', ...PINNED }));
  try {
    await sql.begin(async (tx) => {
      await tx.unsafe(`revoke select on ${SERVER_WIDE_CATALOGS.join(', ')} from public`);
      for (const fn of NAMING_FUNCTIONS) await tx.unsafe(`revoke execute on function ${fn} from public`);
      await tx.unsafe(`grant select on ${DUMP_CATALOGS.join(', ')} to ${ident(dumpRoleName(tenant))}`);
    });
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/**
 * What is not as `hardenTenantDatabase` leaves it, read through `sql`, a `tenantSession`
 * in that database (as any role: the answers are about PUBLIC and the dump role).
 */
export async function hardeningProblems(sql: Sql, tenant: string): Promise<string[]> {
  const [r] = await sql<{ catalogs: string[]; functions: string[]; dump: string[] }[]>`
    select
      array(select c from pg_catalog.unnest(${SERVER_WIDE_CATALOGS}::pg_catalog.text[]) c
            where pg_catalog.has_table_privilege('public', c, 'select')) as catalogs,
      array(select f from pg_catalog.unnest(${NAMING_FUNCTIONS}::pg_catalog.text[]) f
            where pg_catalog.has_function_privilege('public', f, 'execute')) as functions,
      array(select c from pg_catalog.unnest(${DUMP_CATALOGS}::pg_catalog.text[]) c
            where not pg_catalog.has_table_privilege(${dumpRoleName(tenant)}, c, 'select')) as dump`;
  const problems: string[] = [];
  if (r!.catalogs.length) problems.push(`its role could list every database and role of the server (${r!.catalogs.length} catalogs)`);
  if (r!.functions.length) problems.push(`its role could name other roles and sessions (${r!.functions.length} functions)`);
  if (r!.dump.length) problems.push(`its dump role could not read what pg_dump needs (${r!.dump.length} catalogs)`);
  return problems;
}

/** `public.silo_migrations` is not the table silo made: a tenant changed it (only its own reads break). */
export class SchemaTableChanged extends Error {
  override name = 'SchemaTableChanged';
}

/**
 * The schema version of a tenant database (0: never migrated), read without running
 * anything the tenant made: `public.silo_migrations` must be a plain table with an
 * integer `version`, else this refuses (a tenant that swapped it for a view or a
 * function-typed column only breaks its own backups and deploys).
 */
export async function schemaVersion(sql: Sql): Promise<number> {
  const [shape] = await sql<{ kind: string; type: string | null }[]>`
    select c.relkind::pg_catalog.text as kind, a.atttypid::pg_catalog.regtype::pg_catalog.text as type
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    left join pg_catalog.pg_attribute a
      on a.attrelid = c.oid and a.attname = 'version' and not a.attisdropped
    where n.nspname = 'public' and c.relname = 'silo_migrations'`;
  if (!shape) return 0;
  if (shape.kind !== 'r' || shape.type !== 'integer') {
    throw new SchemaTableChanged(`public.silo_migrations is not silo's table (a ${shape.kind === 'r' ? `table whose version is ${shape.type ?? 'missing'}` : `relation of kind ${shape.kind}`}): refusing to read it`);
  }
  const [row] = await sql<{ v: number }[]>`select coalesce(pg_catalog.max(version), 0) as v from only public.silo_migrations`;
  return Number(row!.v);
}

/** Row counts of every plain table of the tenant's `public` schema (count(*) runs no tenant code). */
export async function tableCounts(sql: Sql): Promise<Record<string, number>> {
  const tables = await sql<{ t: string }[]>`
    select pg_catalog.quote_ident(c.relname) as t from pg_catalog.pg_class c
    where c.relkind = 'r' and c.relnamespace = 'public'::pg_catalog.regnamespace
    order by 1`;
  const counts: Record<string, number> = {};
  for (const { t } of tables) counts[t] = Number((await sql.unsafe(`select pg_catalog.count(*) as n from only public.${t}`))[0]!.n);
  return counts;
}
