/**
 * The running stack, one piece at a time: rendering the proxy config from a registry and
 * reloading the proxy if it changed, and waiting until a tenant answers through it (a
 * tenant's worker under PM2: src/pm2/workers.ts). Tenant operations call these from
 * their steps, under the registry lock, with the registry as it is at that moment.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import type { Registry } from '../registry/registry.js';
import { PROXY_APP } from '../pm2/ecosystem.js';
import { isOnline, running } from '../pm2/workers.js';
import { installProxyConfig } from '../proxy/config-files.js';
import { runningProxyPid, type ProxyDriver } from '../proxy/driver.js';
import { proxyDriver } from '../proxy/kinds.js';
import { proxyModel } from '../proxy/model.js';
import { stopAbandonedProxyProcesses } from './orphans.js';
import { writeSuspendedPages } from '../proxy/suspended.js';
import { probe, probeTls, waitFor, type ProbeResult } from '../common/http-probe.js';
import { proxyTls } from '../proxy/tls/model.js';
import { tenantHosts } from '../common/names.js';
import { SiloError } from '../common/errors.js';
import { runPaths } from '../common/run-dir.js';
import { proxyUser, syncTenantRunDirs } from '../isolation/run-dirs.js';
import { runtimeFor } from '../runtime/select.js';
import { EDGE_LISTEN_PORT, EDGE_PATHS, EDGE_RUN_AS } from '../proxy/edge.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyModel } from '../proxy/model.js';

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

/** A request to `host` through the proxy: over HTTPS when SILO_TLS=on (HTTP only redirects then). */
export function probeProxy(cfg: SiloConfig, path: string, host: string, timeoutMs?: number): Promise<ProbeResult> {
  return cfg.tls ? probeTls(cfg.httpHost, cfg.httpsPort, path, host, timeoutMs) : probe(cfg.httpHost, cfg.httpPort, path, host, timeoutMs);
}

/** The proxy routes `host` to a ready worker (any app: /readyz is the platform's, not the app's). */
export async function waitThroughProxy(cfg: SiloConfig, _name: string, host: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(`${host} through the proxy`, timeoutMs, async () => {
    const r = await probeProxy(cfg, '/readyz', host);
    // A suspended tenant is routed too: to the proxy's own 503 page (proxy/suspended.ts).
    if (r.status === 503 && r.body.includes('"suspended":true')) return true;
    return r.status === 200 ? true : `HTTP ${r.status}`;
  });
}

export async function waitUnrouted(cfg: SiloConfig, host: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(`${host} to leave the proxy`, timeoutMs, async () => (await probeProxy(cfg, '/healthz', host).catch(() => ({ status: 404 }))).status === 404);
}

/**
 * Where the proxy finds each tenant's worker on a Swarm: the node running its task (its
 * port published there), then every other ready node on the same port, so that a task
 * rescheduled elsewhere is found before silo re-renders (proxy/nginx/pool.ts).
 */
async function remoteRoutes(cfg: SiloConfig, reg: Registry): Promise<Record<string, string[]>> {
  const runtime = runtimeFor(cfg);
  const [workers, nodes] = await Promise.all([runtime.workers(), runtime.nodes?.() ?? []]);
  const out: Record<string, string[]> = {};
  for (const [name, t] of Object.entries(reg.tenants)) {
    if (t.state !== 'ready') continue;
    const first = workers.get(name)?.address;
    const others = nodes.filter((n) => n.ready && n.addr).map((n) => `${n.addr}:${t.port}`).filter((a) => a !== first);
    out[name] = first ? [first, ...others] : others;
  }
  return out;
}

/**
 * Render the proxy config from `reg` and install it; reload the running proxy if it
 * changed. Returns whether it changed.
 */
export async function syncProxy(cfg: SiloConfig, reg: Registry, proxyOnline: boolean): Promise<boolean> {
  const driver = driverFor(cfg);
  const suspendedDir = homePaths(cfg.home).suspendedPages;
  try {
    // nginx routes by folder: one per ready tenant, none for any other.
    syncTenantRunDirs(cfg, reg);
    const run = runPaths(cfg.home);
    const user = proxyUser(cfg);
    const model = proxyModel(reg, {
      domain: cfg.domain,
      httpHost: cfg.httpHost,
      httpPort: cfg.httpPort,
      runDir: run.dir,
      wakerSocket: run.wakerSocket,
      suspendedDir,
      tenantRate: cfg.tenantRate,
      ...(user ? { runAs: { user: user.name, group: user.name } } : {}),
      ...(cfg.tls ? { tls: await proxyTls(cfg, reg, user) } : {}),
      ...(cfg.control && cfg.controlHost ? { control: { host: cfg.controlHost, socket: run.controlProxySocket } } : {}),
      ...(cfg.runtime === 'swarm' ? { remote: await remoteRoutes(cfg, reg) } : {}),
    });
    writeSuspendedPages(suspendedDir, reg);
    if (cfg.runtime === 'swarm' && cfg.edgePort > 0) await writeEdgeConfig(cfg, driver, reg, model);
    // Workers on other hosts are routed by address, which nginx reads at a reload only.
    const changed = await installProxyConfig(model.remote ? { ...driver, deferred: [] } : driver, model, user ? { uid: user.uid, gid: user.gid } : undefined);
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

/**
 * The edge service's nginx config (SILO_EDGE_PORT): the same render as this host's, for
 * the paths inside the edge's container, with the same routes to the workers. Its agents
 * fetch it from the waker with the route files (src/proxy/edge.ts) and reload their nginx
 * when it changed. No TLS and no control API there yet.
 */
async function writeEdgeConfig(cfg: SiloConfig, driver: ProxyDriver, reg: Registry, here: ProxyModel): Promise<void> {
  const model = proxyModel(reg, {
    domain: cfg.domain,
    httpHost: '0.0.0.0',
    httpPort: EDGE_LISTEN_PORT,
    runDir: EDGE_PATHS.run,
    wakerSocket: EDGE_PATHS.wakerSocket,
    suspendedDir: EDGE_PATHS.suspended,
    tenantRate: cfg.tenantRate,
    runAs: EDGE_RUN_AS,
    ...(here.remote ? { remote: here.remote } : {}),
  });
  const dir = homePaths(cfg.home).edgeConfig;
  for (const [name, text] of Object.entries(await driver.render(model))) {
    const file = join(dir, name);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileAtomic(file, text, 0o644);
  }
}

export function primaryHost(cfg: SiloConfig, reg: Registry, name: string): string {
  return tenantHosts(cfg, name, reg.tenants[name])[0]!;
}
