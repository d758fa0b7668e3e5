/**
 * Databases that stand beside a tenant's live one during a restore or a move:
 * `<tenant>_restore` (a backup being restored), `<tenant>_incoming` (a copy arriving on
 * the target of a move) and `<tenant>_previous` (what a restore replaced). `_` cannot
 * occur in a tenant name, so these never collide with a tenant. Each carries its own
 * comment, and silo drops only databases whose comment says they are its own.
 *
 * The swap is one transaction (ALTER DATABASE ... RENAME is transactional): the live
 * database becomes `_previous` and the side one takes its name, or neither happens.
 */
import type { Sql } from 'postgres';
import { ident, literal } from './admin.js';
import { MARK } from './tenant-ddl.js';

export type Side = 'restore' | 'incoming' | 'previous';

export const sideName = (tenant: string, side: Side) => `${tenant}_${side}`;
const sideMark = (tenant: string, side: Side) => `silo ${side} of ${tenant}`;

async function comment(sql: Sql, db: string): Promise<string | null | undefined> {
  const rows = await sql<{ c: string | null }[]>`select shobj_description(oid, 'pg_database') as c from pg_database where datname = ${db}`;
  return rows.length ? rows[0]!.c : undefined;
}

export async function sideExists(sql: Sql, tenant: string, side: Side): Promise<boolean> {
  return (await comment(sql, sideName(tenant, side))) !== undefined;
}

export async function dropSide(sql: Sql, tenant: string, side: Side): Promise<boolean> {
  const db = sideName(tenant, side);
  const c = await comment(sql, db);
  if (c === undefined) return false;
  if (c !== sideMark(tenant, side)) throw new Error(`refusing to drop database "${db}": it was not created by silo`);
  await sql.unsafe(`drop database ${ident(db)} with (force)`);
  return true;
}

/** A fresh, empty side database owned by the tenant role, reachable by that role only. */
export async function createSide(sql: Sql, tenant: string, side: Side): Promise<string> {
  const db = sideName(tenant, side);
  await dropSide(sql, tenant, side);
  await sql.unsafe(`create database ${ident(db)} owner ${ident(tenant)} encoding 'UTF8' template template0`);
  await sql.unsafe(`comment on database ${ident(db)} is ${literal(sideMark(tenant, side))}`);
  await sql.unsafe(`revoke all on database ${ident(db)} from public`);
  await sql.unsafe(`grant connect, temporary on database ${ident(db)} to ${ident(tenant)}`);
  return db;
}

export async function allowsConnections(sql: Sql, db: string): Promise<boolean | undefined> {
  const rows = await sql<{ allow: boolean }[]>`select datallowconn as allow from pg_database where datname = ${db}`;
  return rows[0]?.allow;
}

export async function setAllowConnections(sql: Sql, db: string, allow: boolean): Promise<void> {
  await sql.unsafe(`alter database ${ident(db)} with allow_connections ${allow}`);
}

/** No new sessions, and the open ones closed (waiting up to 5 s for each to go). */
export async function closeDatabase(sql: Sql, db: string): Promise<void> {
  await setAllowConnections(sql, db, false);
  await sql`select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = ${db} and pid <> pg_backend_pid()`;
}

/**
 * Put `side` in the tenant's place, in one transaction. The live database (closed by the
 * caller) becomes `_previous`, unless there is none (a move's target, a removed tenant).
 */
export async function swapIn(sql: Sql, tenant: string, side: Exclude<Side, 'previous'>): Promise<void> {
  const live = await comment(sql, tenant);
  if (live !== undefined && live !== MARK) throw new Error(`database "${tenant}" was not created by silo`);
  await sql.begin(async (tx) => {
    if (live !== undefined) {
      await tx.unsafe(`alter database ${ident(tenant)} rename to ${ident(sideName(tenant, 'previous'))}`);
      await tx.unsafe(`comment on database ${ident(sideName(tenant, 'previous'))} is ${literal(sideMark(tenant, 'previous'))}`);
    }
    await tx.unsafe(`alter database ${ident(sideName(tenant, side))} rename to ${ident(tenant)}`);
    await tx.unsafe(`comment on database ${ident(tenant)} is ${literal(MARK)}`);
  });
}
