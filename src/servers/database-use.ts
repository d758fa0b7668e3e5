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
