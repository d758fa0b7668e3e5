/**
 * The connection budget of a database server: how many sessions its tenants may hold at
 * once. One rule, read by placement (`tenant create` without `--server`), `silo status`
 * and the README's sizing advice.
 *
 * budget = max_connections - superuser_reserved_connections - CONTROL_RESERVE
 *
 * A tenant holds connections only while it is busy: its worker closes a connection idle
 * for SILO_DB_IDLE_TIMEOUT (10 s), a hibernated tenant has no worker. So the budget is
 * spent by busy tenants, each up to its pool (SILO_POOL_MAX): budget / pool size tenants
 * can be busy at once without waiting; any number can be awake. Beyond that a worker
 * refused a connection (53300) waits for one: postgres.js retries with back-off and sends
 * its queries down the connections it already has, and connections retire after
 * DB_MAX_LIFETIME_S, which hands their slots to the tenants that wait.
 */
import type { SiloConfig } from '../common/config.js';
import type { ServerEntry } from '../registry/registry.js';

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
