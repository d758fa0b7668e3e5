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
import { dumpRoleName } from './tenant-session.js';

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
  await grantDatabase(sql, name, name);
}

/**
 * Who may connect to a tenant's database (or a side one): its role only. Its dump role
 * connects as a member of that role.
 */
export async function grantDatabase(sql: Sql, database: string, tenant: string): Promise<void> {
  await sql.unsafe(`revoke all on database ${ident(database)} from public`);
  await sql.unsafe(`grant connect, temporary on database ${ident(database)} to ${ident(tenant)}`);
}

const dumpMark = (tenant: string) => `silo dump role of ${tenant}`;

/**
 * The tenant's dump role: logs in (its own password, which only the control plane
 * reads), is a member of the tenant's role (reads what it owns), and in the tenant's
 * database reads what pg_dump needs of the catalogs hidden from the tenant's role
 * (tenant-session.ts). pg_dump runs as it instead of a superuser; the tenant's worker
 * never holds it, and the tenant's role is not a member of it.
 */
export async function ensureDumpRole(sql: Sql, tenant: string, password: string): Promise<void> {
  const name = dumpRoleName(tenant);
  const rows = await sql<{ c: string | null }[]>`select shobj_description(oid, 'pg_authid') as c from pg_roles where rolname = ${name}`;
  if (rows.length && rows[0]!.c !== dumpMark(tenant)) throw new Error(`a role named "${name}" already exists on this server and was not created by silo`);
  const attrs = `login inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls connection limit 3`;
  if (!rows.length) {
    await sql.begin(async (tx) => {
      await tx.unsafe(`create role ${ident(name)} with ${attrs} password ${literal(password)}`);
      await tx.unsafe(`comment on role ${ident(name)} is ${literal(dumpMark(tenant))}`);
    });
  } else {
    await sql.unsafe(`alter role ${ident(name)} with ${attrs} password ${literal(password)}`);
  }
  const [member] = await sql<{ yes: boolean }[]>`select pg_has_role(${name}, ${tenant}, 'usage') as yes`;
  if (!member?.yes) await sql.unsafe(`grant ${ident(tenant)} to ${ident(name)}`);
}

/** Does the dump role exist, log in and belong to the tenant's role? Undefined if so, else what is wrong. */
export async function dumpRoleProblem(sql: Sql, tenant: string): Promise<string | undefined> {
  const name = dumpRoleName(tenant);
  const [r] = await sql<{ c: string | null; login: boolean; inherit: boolean; super: boolean; member: boolean }[]>`
    select shobj_description(oid, 'pg_authid') as c, rolcanlogin as login, rolinherit as inherit, rolsuper as super,
           pg_has_role(oid, ${tenant}, 'usage') as member
    from pg_roles where rolname = ${name}`;
  if (!r) return 'its dump role was missing';
  if (r.c !== dumpMark(tenant)) return `a role named ${name} is not silo's`;
  if (r.super) return 'its dump role was a superuser';
  if (!r.login || !r.inherit || !r.member) return 'its dump role could not read its database';
  return undefined;
}

export async function dropDumpRole(sql: Sql, tenant: string): Promise<void> {
  const name = dumpRoleName(tenant);
  const rows = await sql<{ c: string | null }[]>`select shobj_description(oid, 'pg_authid') as c from pg_roles where rolname = ${name}`;
  if (!rows.length) return;
  if (rows[0]!.c !== dumpMark(tenant)) throw new Error(`refusing to drop role "${name}": it was not created by silo`);
  await sql.unsafe(`drop role ${ident(name)}`);
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
