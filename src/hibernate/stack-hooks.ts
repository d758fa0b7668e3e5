/**
 * Where hibernation meets `silo up`, `status` and the proxy: which tenants sleep (their
 * workers are not started by `up` and not waited for), the waker app, and what `status`
 * says about a tenant whose worker is not running.
 */
import type { SiloConfig } from '../common/config.js';
import { ago } from '../common/duration.js';
import * as pm2 from '../pm2/pm2.js';
import { wakerApp, WAKER_APP } from './waker-app.js';
import { readState } from './state.js';

export { WAKER_APP };

export function asleepTenants(cfg: SiloConfig): Set<string> {
  const s = readState(cfg.home);
  return new Set(Object.keys(s.tenants).filter((n) => s.tenants[n]!.asleep));
}

/** Start the waker unless it runs. */
export async function startWaker(cfg: SiloConfig, online: boolean): Promise<{ started: boolean }> {
  if (online) return { started: false };
  await pm2.startFresh(wakerApp(cfg));
  return { started: true };
}

export interface TenantHibernation {
  /** `hibernated` when the waker put it to sleep and no worker runs */
  worker?: string;
  lastRequestAt?: string;
  idle?: string;
  wakeError?: string;
}

/** Status fields for each tenant: the PM2 view is corrected to `hibernated` where it sleeps. */
export function hibernationStatus(cfg: SiloConfig): (name: string, worker: string) => TenantHibernation {
  const s = readState(cfg.home);
  const now = Date.now();
  return (name, worker) => {
    const t = s.tenants[name];
    if (!t) return {};
    const out: TenantHibernation = {};
    if (t.asleep && worker !== 'online') out.worker = 'hibernated';
    if (t.lastRequestAt) {
      out.lastRequestAt = new Date(t.lastRequestAt).toISOString();
      out.idle = ago(now - t.lastRequestAt);
    }
    if (t.wakeError && t.asleep) out.wakeError = t.wakeError;
    return out;
  };
}
