/**
 * The connection budget of a database server: how many sessions its tenants may hold at
 * once. One rule, read by placement (`tenant create` without `--server`), `silo status`
 * and the README's sizing advice.
 *
 * budget = max_connections - superuser_reserved_connections - CONTROL_RESERVE
 *
 * A tenant holds connections only while it is busy: its worker closes a connection idle
 * for SILO_DB_IDLE_TIMEOUT (5 s), a hibernated tenant has no worker. So the budget is
 * spent by busy tenants, each up to its pool; any number can be awake.
 *
 * Each worker's pool is sized from its server's budget: the budget shared by the tenants
 * on that server, at least 1, at most SILO_POOL_MAX. With a pool of one a busy tenant
 * holds one connection and pipelines its queries on it (postgres.js), so as many tenants
 * as the budget has connections are busy at once, and their queries queue in their own
 * pools. Why not SILO_POOL_MAX for everyone: a pool that holds a connection and is
 * refused another (53300) keeps retrying, and once that lasts longer than its connect
 * timeout postgres.js fails its queued queries whenever its connections are all in
 * transactions (measured: `npm run bench:connections`, 20 busy tenants of pool 4 on 37
 * connections failed 96,268 queries in 5 s; with a pool of one, none).
 */
import type { SiloConfig } from '../common/config.js';
import type { Registry, ServerEntry } from '../registry/registry.js';

/** Sessions kept free for silo itself: status, ceilings, `migrate` (4 at a time), backups, a reload's second pool. */
export const CONTROL_RESERVE = 8;

/** PostgreSQL's own default, assumed for an external server registered before silo recorded its setting. */
export const DEFAULT_MAX_CONNECTIONS = 100;

/** PostgreSQL's default superuser_reserved_connections, assumed when the server cannot be asked. */
export const DEFAULT_SUPERUSER_RESERVED = 3;

export function budgetOf(maxConnections: number, superuserReserved = DEFAULT_SUPERUSER_RESERVED): number {
  return Math.max(0, maxConnections - superuserReserved - CONTROL_RESERVE);
}

/** max_connections as silo knows it without connecting: the embedded servers' setting, or what `server add` read. */
export function knownMaxConnections(cfg: Pick<SiloConfig, 'pgMaxConnections'>, entry: ServerEntry): number {
  return entry.kind === 'embedded' ? cfg.pgMaxConnections : (entry.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
}

/** A worker's pool on a server: its share of the budget, at least 1, at most SILO_POOL_MAX. */
export function poolSize(budget: number, tenants: number, poolMax: number): number {
  return Math.max(1, Math.min(poolMax, Math.floor(budget / Math.max(1, tenants))));
}

/** The pool of the workers of `server`'s tenants, from what the registry knows (no connection). */
export function tenantPoolSize(cfg: Pick<SiloConfig, 'pgMaxConnections' | 'poolMax'>, registry: Registry, server: string): number {
  const entry = registry.servers[server];
  if (!entry) return cfg.poolMax;
  const tenants = Object.values(registry.tenants).filter((t) => t.server === server).length;
  return poolSize(budgetOf(knownMaxConnections(cfg, entry)), tenants, cfg.poolMax);
}

/** Tenants that can be busy at once, each with its whole pool, before one waits for a connection. */
export function busyAtOnce(budget: number, poolMax: number): number {
  return Math.floor(budget / Math.max(1, poolMax));
}

/**
 * Where a new tenant goes: the server left with the most budget per tenant once it is
 * there, so a server with twice the connections takes twice the tenants; equal budgets
 * fall back to the fewest tenants, then the name.
 */
export function placeByBudget(servers: { name: string; budget: number; tenants: number }[]): string | undefined {
  const share = (s: { budget: number; tenants: number }) => s.budget / (s.tenants + 1);
  return [...servers].sort((a, b) => share(b) - share(a) || a.tenants - b.tenants || a.name.localeCompare(b.name))[0]?.name;
}
