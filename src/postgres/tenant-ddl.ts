/**
 * The DDL that gives a tenant its own role and database, each step idempotent ("exists?"
 * before acting) so a re-run after a crash completes the job. Objects silo creates carry
 * a comment; silo refuses to adopt or drop a role or database it did not create, unless
 * the caller knows better (`adopt`): an object named like a tenant the registry holds as
 * being created or removed is silo's own half-done work, whatever happened to its comment
 * (CREATE DATABASE and its COMMENT cannot share a transaction).
 */
import type { Sql } from 'postgres';
import { ident, literal } from './admin.js';

export const MARK = 'silo tenant';

export interface RoleOptions {
  connectionLimit: number;
  /** an unmarked role of this name is silo's half-done work: mark and use it */
  adopt?: boolean;
}

export interface Adopt {
  adopt?: boolean;
}

export type Ownership = 'missing' | 'ours' | 'foreign';

export async function ownedBy(sql: Sql, kind: 'role' | 'database', name: string): Promise<'missing' | 'ours' | 'foreign'> {
  const rows =
    kind === 'role'
      ? await sql<{ c: string | null }[]>`select shobj_description(oid, 'pg_authid') as c from pg_roles where rolname = ${name}`
      : await sql<{ c: string | null }[]>`select shobj_description(oid, 'pg_database') as c from pg_database where datname = ${name}`;
  if (rows.length === 0) return 'missing';
  return rows[0]!.c === MARK ? 'ours' : 'foreign';
}

export async function ensureRole(sql: Sql, name: string, password: string, opts: RoleOptions): Promise<void> {
  const state = await ownedBy(sql, 'role', name);
  if (state === 'foreign' && !opts.adopt) throw new Error(`a role named "${name}" already exists on this server and was not created by silo`);
  const attrs = `login inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls connection limit ${opts.connectionLimit}`;
  if (state === 'missing') {
    // One transaction: the role never exists without its mark.
    await sql.begin(async (tx) => {
      await tx.unsafe(`create role ${ident(name)} with ${attrs} password ${literal(password)}`);
      await tx.unsafe(`comment on role ${ident(name)} is ${literal(MARK)}`);
    });
  } else {
    if (state === 'foreign') await sql.unsafe(`comment on role ${ident(name)} is ${literal(MARK)}`);
    // Re-run: make the role match what this run expects (the secret file holds the password).
    await sql.unsafe(`alter role ${ident(name)} with ${attrs} password ${literal(password)}`);
  }
}

export async function ensureDatabase(sql: Sql, name: string, opts: Adopt = {}): Promise<void> {
  const state = await ownedBy(sql, 'database', name);
  if (state === 'foreign' && opts.adopt) await sql.unsafe(`comment on database ${ident(name)} is ${literal(MARK)}`);
  else if (state === 'foreign') throw new Error(`a database named "${name}" already exists on this server and was not created by silo`);
  if (state === 'missing') {
    // CREATE DATABASE cannot run inside a transaction nor take its name as a parameter.
    await sql.unsafe(`create database ${ident(name)} owner ${ident(name)} encoding 'UTF8' template template0`);
    await sql.unsafe(`comment on database ${ident(name)} is ${literal(MARK)}`);
  }
  await sql.unsafe(`revoke all on database ${ident(name)} from public`);
  await sql.unsafe(`grant connect, temporary on database ${ident(name)} to ${ident(name)}`);
}

/** Tenant roles must not reach the maintenance databases either (they allow PUBLIC by default). */
export async function hardenServer(sql: Sql): Promise<void> {
  await sql.unsafe(`revoke connect on database postgres from public`);
  await sql.unsafe(`revoke connect on database template1 from public`);
}

export async function dropDatabase(sql: Sql, name: string, opts: Adopt = {}): Promise<void> {
  const state = await ownedBy(sql, 'database', name);
  if (state === 'missing') return;
  if (state === 'foreign' && !opts.adopt) throw new Error(`refusing to drop database "${name}": it was not created by silo`);
  await sql.unsafe(`drop database ${ident(name)} with (force)`);
}

export async function dropRole(sql: Sql, name: string, opts: Adopt = {}): Promise<void> {
  const state = await ownedBy(sql, 'role', name);
  if (state === 'missing') return;
  if (state === 'foreign' && !opts.adopt) throw new Error(`refusing to drop role "${name}": it was not created by silo`);
  await sql.unsafe(`drop role ${ident(name)}`);
}

export async function databaseExists(sql: Sql, name: string): Promise<boolean> {
  return (await ownedBy(sql, 'database', name)) !== 'missing';
}

/**
 * Views and catalogs that list every database, role or session of the server. They are
 * readable by PUBLIC by default, so a tenant role could list the other tenants' names.
 * A worker needs none of them (postgres.js reads pg_type; migrations their own table).
 * Shared catalogs keep their privileges per database, so this runs in each tenant's
 * database (the only one its role can connect to). Needs a superuser: on a server whose
 * admin is not one, PostgreSQL only warns and the names stay listable (reported).
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

/** `tenantDb`: an admin connection to the tenant's own database. Does PUBLIC still read any of them? */
export async function serverCatalogsHidden(tenantDb: Sql): Promise<boolean> {
  const [r] = await tenantDb<{ n: number }[]>`
    select count(*)::int as n from unnest(${SERVER_WIDE_CATALOGS}::text[]) c
    where has_table_privilege('public', c, 'select')`;
  return r!.n === 0;
}

/** Revoke them from PUBLIC in this database; true when they are hidden afterwards. */
export async function hideServerCatalogs(tenantDb: Sql): Promise<boolean> {
  if (await serverCatalogsHidden(tenantDb)) return true;
  await tenantDb.unsafe(`revoke select on ${SERVER_WIDE_CATALOGS.join(', ')} from public`);
  return serverCatalogsHidden(tenantDb);
}
