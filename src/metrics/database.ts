/**
 * What the database servers say, one connection and two or three queries per server per
 * scrape, never one per tenant: the sessions each role holds (its worker's pool
 * connections) and the server's connections against `max_connections`, on every scrape
 * (cheap: one read of pg_stat_activity); the tenants' database sizes at most once per
 * SIZE_TTL_MS (pg_database_size walks each database's files). Read as the server's
 * admin in its maintenance database, never inside a tenant's. A server that does not
 * answer is `up 0` and has no other figures this time.
 */
import type { Sql } from 'postgres';
import type { SiloConfig } from '../common/config.js';
import type { Registry } from '../registry/registry.js';
import { connectAdmin } from '../postgres/admin.js';
import { adminUrl } from '../servers/servers.js';
import { budgetOf } from '../servers/connection-budget.js';

export const SIZE_TTL_MS = 60_000;

export interface ServerSample {
  name: string;
  up: boolean;
  maxConnections?: number;
  /** client sessions now, everyone's */
  connections?: number;
  /** what the tenants may hold (servers/connection-budget.ts) */
  budget?: number;
}

export interface DatabaseSample {
  servers: ServerSample[];
  /** sessions per tenant role, on its server */
  sessions: Map<string, number>;
  /** bytes per tenant database (as of its last size reading, at most SIZE_TTL_MS old) */
  sizes: Map<string, number>;
}

/** A reader that remembers the sizes between scrapes. */
export function createDatabaseReader(cfg: SiloConfig, sizeTtlMs = SIZE_TTL_MS) {
  const sizes = new Map<string, number>();
  const sizedAt = new Map<string, number>();

  async function readServer(server: string, tenants: string[], out: DatabaseSample): Promise<void> {
    let sql: Sql | undefined;
    try {
      sql = connectAdmin(adminUrl(cfg, server), { max: 1, connectTimeoutS: 2, applicationName: 'silo-metrics' });
      const rows = await sql<{ usename: string | null; n: number }[]>`
        select a.usename, count(*)::int as n
        from pg_catalog.pg_stat_activity a where a.backend_type = 'client backend' group by a.usename`;
      const [settings] = await sql<{ max: number; reserved: number }[]>`
        select current_setting('max_connections')::int as max, current_setting('superuser_reserved_connections')::int as reserved`;
      const mine = new Set(tenants);
      let total = 0;
      for (const r of rows) {
        total += r.n;
        if (r.usename && mine.has(r.usename)) out.sessions.set(r.usename, r.n);
      }
      out.servers.push({ name: server, up: true, maxConnections: settings!.max, connections: total, budget: budgetOf(settings!.max, settings!.reserved) });
      if (Date.now() - (sizedAt.get(server) ?? -Infinity) >= sizeTtlMs && tenants.length > 0) {
        const got = await sql<{ name: string; bytes: string }[]>`
          select d.datname as name, pg_catalog.pg_database_size(d.oid)::text as bytes
          from pg_catalog.pg_database d where d.datname = any(${tenants})`;
        for (const t of tenants) sizes.delete(t);
        for (const r of got) sizes.set(r.name, Number(r.bytes));
        sizedAt.set(server, Date.now());
      }
    } catch {
      out.servers.push({ name: server, up: false });
    } finally {
      await sql?.end({ timeout: 2 }).catch(() => undefined);
    }
  }

  return async function read(reg: Registry): Promise<DatabaseSample> {
    const out: DatabaseSample = { servers: [], sessions: new Map(), sizes };
    const byServer = new Map<string, string[]>(Object.keys(reg.servers).map((s) => [s, []]));
    for (const [name, t] of Object.entries(reg.tenants)) if (t.state === 'ready') byServer.get(t.server)?.push(name);
    await Promise.all([...byServer].map(([server, tenants]) => readServer(server, tenants, out)));
    out.servers.sort((a, b) => a.name.localeCompare(b.name));
    return out;
  };
}
