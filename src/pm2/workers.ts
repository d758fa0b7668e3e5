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
import { probeSocket, waitFor } from '../common/http-probe.js';
import { runPaths } from '../common/run-dir.js';
import { ensureRunDir, ensureTenantRunDir } from '../isolation/run-dirs.js';

export type Running = Map<string, pm2.ProcessDescription>;

/** PM2's apps of this stack by name; empty when no daemon runs (none is started to ask). */
export async function running(): Promise<Running> {
  if (!pm2.daemonPid()) return new Map();
  return new Map((await pm2.list(NAMESPACE)).map((p) => [p.name, p]));
}

export const isOnline = (p?: pm2.ProcessDescription) => p?.pm2_env?.status === 'online';

/** The tenant's worker answers /readyz on its socket. */
export async function waitWorker(cfg: SiloConfig, name: string, timeoutMs = 20_000): Promise<void> {
  const socket = runPaths(cfg.home).workerSocket(name);
  await waitFor(`the worker of ${name}`, timeoutMs, async () => (await probeSocket(socket, '/readyz')).status === 200);
}

/** Start a ready tenant's worker unless it is online; wait until it is ready. */
export async function ensureWorker(cfg: SiloConfig, reg: Registry, name: string, now?: Running): Promise<boolean> {
  const [app] = workerApps(cfg, reg, name);
  if (!app) return false;
  const procs = now ?? (await running());
  let started = false;
  if (!isOnline(procs.get(app.name))) {
    // The folder its socket goes in (its user writes, the proxy enters).
    ensureRunDir(cfg);
    ensureTenantRunDir(cfg, name);
    await pm2.startFresh(app);
    started = true;
  }
  await waitWorker(cfg, name);
  return started;
}

/** Stop and forget a tenant's worker if PM2 has it. */
export async function removeWorker(name: string): Promise<boolean> {
  if (!(await running()).has(workerApp(name))) return false;
  await pm2.remove(workerApp(name));
  return true;
}
