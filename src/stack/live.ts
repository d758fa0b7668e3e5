/**
 * The running stack, one piece at a time: what PM2 runs now, starting or stopping one
 * tenant's worker, rendering the proxy config from a registry and reloading the proxy
 * if it changed, and waiting until a tenant answers. Tenant operations call these from
 * their steps, under the registry lock, with the registry as it is at that moment.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import type { Registry } from '../registry/registry.js';
import { PROXY_APP, NAMESPACE, workerApp, workerApps } from './ecosystem.js';
import * as pm2 from './pm2.js';
import { installProxyConfig } from '../proxy/config-files.js';
import { proxyDriver, runningProxyPid, type ProxyDriver } from '../proxy/driver.js';
import { proxyModel } from '../proxy/model.js';
import { stopAbandonedProxyProcesses } from './orphans.js';
import { writeSuspendedPages } from '../proxy/suspended.js';
import { probe, waitFor } from '../common/http-probe.js';
import { tenantHosts } from '../common/names.js';
import { SiloError } from '../common/errors.js';
import { readWakerPort } from '../hibernate/state.js';
import { portInUse } from '../common/port-holder.js';

export type Running = Map<string, pm2.ProcessDescription>;

/** PM2's apps of this stack by name; empty when no daemon runs (none is started to ask). */
export async function running(): Promise<Running> {
  if (!pm2.daemonPid()) return new Map();
  return new Map((await pm2.list(NAMESPACE)).map((p) => [p.name, p]));
}

export const isOnline = (p?: pm2.ProcessDescription) => p?.pm2_env?.status === 'online';

/** Is the stack up (the proxy runs under PM2 for this PM2_HOME)? */
export async function stackIsUp(): Promise<boolean> {
  return isOnline((await running()).get(PROXY_APP));
}

export function driverFor(cfg: SiloConfig): ProxyDriver {
  try {
    return proxyDriver(homePaths(cfg.home).proxy, cfg.proxy);
  } catch (err) {
    throw new SiloError((err as Error).message);
  }
}

export async function waitWorker(port: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(`the worker on port ${port}`, timeoutMs, async () => (await probe('127.0.0.1', port, '/readyz')).status === 200);
}

/** The proxy routes `host` to a ready worker (any app: /readyz is the platform's, not the app's). */
export async function waitThroughProxy(cfg: SiloConfig, _name: string, host: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(`${host} through the proxy`, timeoutMs, async () => {
    const r = await probe(cfg.httpHost, cfg.httpPort, '/readyz', host);
    // A suspended tenant is routed too: to the proxy's own 503 page (proxy/suspended.ts).
    if (r.status === 503 && r.body.includes('"suspended":true')) return true;
    return r.status === 200 ? true : `HTTP ${r.status}`;
  });
}

export async function waitUnrouted(cfg: SiloConfig, host: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(`${host} to leave the proxy`, timeoutMs, async () => (await probe(cfg.httpHost, cfg.httpPort, '/healthz', host)).status === 404);
}

/**
 * Render the proxy config from `reg` and install it; reload the running proxy if it
 * changed. Returns whether it changed.
 */
export async function syncProxy(cfg: SiloConfig, reg: Registry, proxyOnline: boolean): Promise<boolean> {
  const driver = driverFor(cfg);
  const suspendedDir = homePaths(cfg.home).suspendedPages;
  const model = proxyModel(reg, { domain: cfg.domain, httpHost: cfg.httpHost, httpPort: cfg.httpPort, wakerPort: readWakerPort(cfg.home), suspendedDir, tenantRate: cfg.tenantRate });
  try {
    writeSuspendedPages(suspendedDir, reg);
    const changed = await installProxyConfig(driver, model);
    const pid = runningProxyPid(driver);
    if (changed && proxyOnline && pid) {
      await driver.reload(pid);
      // Workers of a master killed earlier still serve the old config: they go now.
      await stopAbandonedProxyProcesses(driver.dir, pid);
    }
    return changed;
  } catch (err) {
    throw new SiloError((err as Error).message);
  }
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

export function primaryHost(cfg: SiloConfig, reg: Registry, name: string): string {
  return tenantHosts(cfg, name, reg.tenants[name])[0]!;
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
