/**
 * A tenant's limits, the one rule every side reads (proxy renderer, CPU groups, status):
 * its own `limits` in the registry, else the stack's defaults.
 *
 * - `rate`: requests per second its hosts get through nginx (a burst of one second's
 *   worth is let through at once; beyond that the proxy answers 429 with Retry-After).
 *   0: no limit. Default SILO_TENANT_RATE, 20,000: above what one tenant reaches on a
 *   2-core host (9.6k req/s through nginx in `npm run bench`), so it never throttles a
 *   lone busy tenant; set a lower one for a tenant you want to cap.
 * - `cpu`: a hard quota for its worker in percent of one core (cgroups). 0: no quota;
 *   every worker still has its own group with an equal CPU weight, which costs a lone
 *   tenant nothing and splits the CPU evenly when tenants compete. Default SILO_TENANT_CPU, 0.
 */
import type { SiloConfig } from '../common/config.js';
import type { TenantEntry } from '../registry/registry.js';
import { SiloError } from '../common/errors.js';
import { bytesOf } from '../common/sizes.js';

export { bytesOf };

export interface Limits {
  rate: number;
  cpu: number;
}

export interface Ceilings {
  pids: number;
  memory: number;
  dbSize: number;
  logs: number;
}

type CeilingConfig = Pick<SiloConfig, 'tenantPids' | 'tenantMemory' | 'tenantDbSize' | 'tenantLogSize' | 'workerMaxMemory'>;

/** Its role's CONNECTION LIMIT: a reload briefly runs the old and new worker side by side, plus a migration. */
export function connectionLimit(cfg: Pick<SiloConfig, 'poolMax'>): number {
  return cfg.poolMax * 2 + 2;
}

export function tenantCeilings(cfg: CeilingConfig, entry: Pick<TenantEntry, 'limits' | 'maxMemory'>): Ceilings {
  return {
    pids: entry.limits?.pids ?? cfg.tenantPids,
    memory: cfg.tenantMemory ? bytesOf(cfg.tenantMemory) : Math.round(1.5 * bytesOf(entry.maxMemory ?? cfg.workerMaxMemory)),
    dbSize: bytesOf(entry.limits?.dbSize ?? cfg.tenantDbSize),
    logs: bytesOf(cfg.tenantLogSize),
  };
}

/** `--pids` / `--db-size` from the command line, or one clear line. */
export function parseCeiling(what: 'pids' | 'db-size', text: string): number | string {
  if (what === 'pids') {
    if (!/^\d{1,7}$/.test(text) || Number(text) > 1_000_000) throw new SiloError(`invalid --pids "${text.slice(0, 20)}": processes and threads, a whole number from 0 (no limit) to 1000000`);
    return Number(text);
  }
  if (!/^[1-9]\d{0,6}[KMG]$/.test(text)) throw new SiloError(`invalid --db-size "${text.slice(0, 20)}": a size with K, M or G, e.g. 500M`);
  return text;
}

export function tenantLimits(cfg: Pick<SiloConfig, 'tenantRate' | 'tenantCpu'>, entry: Pick<TenantEntry, 'limits'>): Limits {
  return { rate: entry.limits?.rate ?? cfg.tenantRate, cpu: entry.limits?.cpu ?? cfg.tenantCpu };
}

/** `--rate` / `--cpu` from the command line: a whole number in range, or one clear line. */
export function parseLimit(what: 'rate' | 'cpu', text: string): number {
  const max = what === 'rate' ? 1_000_000 : 6400;
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n > max) {
    throw new SiloError(
      what === 'rate'
        ? `invalid --rate "${text.slice(0, 20)}": requests per second, a whole number from 0 (no limit) to ${max}`
        : `invalid --cpu "${text.slice(0, 20)}": percent of one core, a whole number from 0 (no quota) to ${max}`,
    );
  }
  return n;
}
