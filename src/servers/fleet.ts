/**
 * The one loop over many tenants (`migrate`, `backup --all`, `deploy`, `repair --all`):
 * each tenant in its own operation (tenant/operation.ts, or at least its lock),
 * `concurrency` at a time, each database server opened once for all of them (opening one
 * server from many operations at once raced on its hardening DDL). A tenant that fails is
 * reported with its reason and the others go on; the caller prints one summary
 * (cli/output.ts `printSummary`). It sits here, below backup/ and tenant/, which both use it.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, type Registry } from '../registry/registry.js';
import { openServer, type OpenServer } from './servers.js';
import { mapLimit } from '../common/map-limit.js';

/** What every loop reports per tenant (each adds its own fields). */
export interface TenantOutcome {
  tenant: string;
  ok: boolean;
  error?: string;
}

export type OnResult<R> = (r: R, done: number, total: number) => void;

export interface FleetOptions<R> {
  concurrency: number;
  onResult?: OnResult<R>;
  /** the result of a tenant whose run threw (default: `{ tenant, ok: false, error }`) */
  failed?: (tenant: string, error: string) => R;
}

/** Servers opened once for a whole loop: pass as `shared` to onTenant. */
export type SharedServers = (server: string) => Promise<OpenServer>;

/** The ready tenants, by name. */
export function readyTenants(reg: Registry): string[] {
  return Object.keys(reg.tenants)
    .filter((n) => reg.tenants[n]!.state === 'ready')
    .sort();
}

/** Run `run` for every name, `concurrency` at a time; every name gets a result, in order. */
export async function overTenants<R extends TenantOutcome>(
  cfg: SiloConfig,
  names: string[],
  opts: FleetOptions<R>,
  run: (tenant: string, shared: SharedServers) => Promise<R>,
): Promise<R[]> {
  const reg = readRegistry(homePaths(cfg.home).registry);
  const servers = new Map<string, Promise<OpenServer>>();
  const shared: SharedServers = (s) => {
    if (!servers.has(s)) servers.set(s, openServer(cfg, reg, s));
    return servers.get(s)!;
  };
  const failed = opts.failed ?? ((tenant: string, error: string) => ({ tenant, ok: false, error }) as R);
  let done = 0;
  try {
    return await mapLimit(names, opts.concurrency, async (tenant) => {
      const r = await run(tenant, shared).catch((err: Error) => failed(tenant, err.message));
      opts.onResult?.(r, ++done, names.length);
      return r;
    });
  } finally {
    for (const s of servers.values()) await (await s.catch(() => undefined))?.release();
  }
}
