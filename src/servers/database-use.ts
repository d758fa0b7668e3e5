/**
 * What each tenant uses of its database server: its database's size on disk, the sessions
 * its role holds, whether its role may log in. Read as each server's admin from its
 * maintenance database (`postgres`), never inside a database a tenant controls; a server
 * that does not answer is left out (measured next time).
 */
import type { Sql } from 'postgres';
import type { SiloConfig } from '../common/config.js';
import type { Registry } from '../registry/registry.js';
import { connectAdmin } from '../postgres/admin.js';
import { adminUrl } from './servers.js';
import { budgetOf } from './connection-budget.js';

export interface DatabaseUse {
  /** bytes on disk now */
  bytes: number;
  /** sessions its role holds now */
  connections: number;
  /** its role may log in */
  canLogin: boolean;
}

const mb = (n: number) => `${Math.round(n / 1048576)} MB`;

/** Size, sessions and login of every ready tenant's database on every server that answers. */
export async function databaseUse(cfg: SiloConfig, reg: Registry): Promise<Map<string, DatabaseUse>> {
  const out = new Map<string, DatabaseUse>();
  await Promise.all(
    Object.keys(reg.servers).map(async (server) => {
      const names = Object.entries(reg.tenants)
        .filter(([, t]) => t.server === server && t.state === 'ready')
        .map(([n]) => n);
      if (names.length === 0) return;
      let sql: Sql | undefined;
      try {
        sql = connectAdmin(adminUrl(cfg, server));
        const rows = await sql<{ name: string; bytes: string; connections: number; login: boolean }[]>`
          select d.datname as name, pg_catalog.pg_database_size(d.oid)::text as bytes,
                 (select count(*)::int from pg_catalog.pg_stat_activity a where a.usename = d.datname) as connections,
                 coalesce((select r.rolcanlogin from pg_catalog.pg_roles r where r.rolname = d.datname), false) as login
          from pg_catalog.pg_database d where d.datname = any(${names})`;
        for (const r of rows) out.set(r.name, { bytes: Number(r.bytes), connections: r.connections, canLogin: r.login });
      } catch {
        // a server that does not answer now: measured next time
      } finally {
        await sql?.end({ timeout: 2 }).catch(() => undefined);
      }
    }),
  );
  return out;
}

/** A server's connections now: its setting, and the sessions its tenants and everyone else hold. */
export interface ServerConnections {
  maxConnections: number;
  superuserReserved: number;
  /** sessions the tenants may hold (connection-budget.ts) */
  budget: number;
  /** sessions the tenants' roles (and their dump roles) hold now */
  used: number;
  /** every other client session: silo's own, anyone else's */
  others: number;
}

/** The connections of every server that answers (read as its admin, in its `postgres` database). */
export async function serverConnections(cfg: SiloConfig, reg: Registry): Promise<Map<string, ServerConnections>> {
  const out = new Map<string, ServerConnections>();
  await Promise.all(
    Object.keys(reg.servers).map(async (server) => {
      const roles = Object.entries(reg.tenants)
        .filter(([, t]) => t.server === server)
        .flatMap(([n]) => [n, `${n}_dump`]);
      let sql: Sql | undefined;
      try {
        sql = connectAdmin(adminUrl(cfg, server), { max: 1, connectTimeoutS: 2, applicationName: 'silo-status' });
        const [r] = await sql<{ max: number; reserved: number; tenants: number; total: number }[]>`
          select current_setting('max_connections')::int as max,
                 current_setting('superuser_reserved_connections')::int as reserved,
                 (count(*) filter (where a.usename = any(${roles})))::int as tenants,
                 count(*)::int as total
          from pg_catalog.pg_stat_activity a where a.backend_type = 'client backend'`;
        if (r) out.set(server, { maxConnections: r.max, superuserReserved: r.reserved, budget: budgetOf(r.max, r.reserved), used: r.tenants, others: r.total - r.tenants });
      } catch {
        // a server that does not answer now: status says so elsewhere
      } finally {
        await sql?.end({ timeout: 2 }).catch(() => undefined);
      }
    }),
  );
  return out;
}
