/**
 * Tenant workers under PM2, one at a time: what PM2 runs now, starting a tenant's worker
 * unless it is online, stopping and forgetting it, and waiting until it is ready. The
 * stack (src/stack/), the waker (src/hibernate/) and tenant operations call these and
 * src/pm2/pm2.ts; nothing else talks to PM2.
 */
import type { SiloConfig } from '../common/config.js';
import type { Registry } from '../registry/registry.js';
import { NAMESPACE, workerApp, workerApps } from './ecosystem.js';
import * as pm2 from './pm2.js';
import { probe, waitFor } from '../common/http-probe.js';
import { SiloError } from '../common/errors.js';
import { portInUse } from '../common/port-holder.js';

export type Running = Map<string, pm2.ProcessDescription>;

/** PM2's apps of this stack by name; empty when no daemon runs (none is started to ask). */
export async function running(): Promise<Running> {
  if (!pm2.daemonPid()) return new Map();
  return new Map((await pm2.list(NAMESPACE)).map((p) => [p.name, p]));
}

export const isOnline = (p?: pm2.ProcessDescription) => p?.pm2_env?.status === 'online';

export async function waitWorker(port: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(`the worker on port ${port}`, timeoutMs, async () => (await probe('127.0.0.1', port, '/readyz')).status === 200);
}

/** Start a ready tenant's worker unless it is online; wait until it is ready. */
export async function ensureWorker(cfg: SiloConfig, reg: Registry, name: string, now?: Running): Promise<boolean> {
  const [app] = workerApps(cfg, reg, name);
  if (!app) return false;
  const procs = now ?? (await running());
  let started = false;
  if (!isOnline(procs.get(app.name))) {
    await refuseTakenPort(reg.tenants[name]!.port, name, procs.get(app.name));
    await pm2.startFresh(app);
    started = true;
  }
  await waitWorker(reg.tenants[name]!.port);
  return started;
}

/** Stop and forget a tenant's worker if PM2 has it. */
export async function removeWorker(name: string): Promise<boolean> {
  if (!(await running()).has(workerApp(name))) return false;
  await pm2.remove(workerApp(name));
  return true;
}

/**
 * A worker whose port another process holds would fail to listen, restart in a loop and
 * leave the command waiting ~20 s for nothing: refuse at once, naming the holder. Only
 * checked when PM2 runs no process of that app (its own process holds the port).
 */
export async function refuseTakenPort(port: number, tenant: string, current?: pm2.ProcessDescription): Promise<void> {
  if (current && current.pid > 0) return;
  const busy = await portInUse(port, `tenant ${tenant}`);
  if (busy) throw new SiloError(busy);
}
