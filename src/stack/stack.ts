/**
 * The running stack under PM2: `silo up`, `down`, `status`, `reload`, and the hot
 * changes `tenant create` and `tenant remove` make while it is up. PM2 always acts on
 * one app at a time, and the proxy reloads gracefully, so nothing here fails a request
 * of a tenant it is not about.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, updateRegistry, withRegistryLock } from '../registry/registry.js';
import { recordSettings } from '../registry/settings.js';
import { embeddedOptions, ensureDefaultServer } from '../servers/servers.js';
import { isPortFree } from '../common/ports.js';
import { createTenant } from '../tenant/create.js';
import { tenantHosts } from '../common/names.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { connectAs } from '../postgres/admin.js';
import { initialiseIfNeeded } from '../postgres/embedded.js';
import { BACKUP_APP, NAMESPACE, PROXY_APP, backupApps, embeddedServers, postgresApp, postgresApps, proxyApp, workerApp, workerApps } from './ecosystem.js';
import * as pm2 from './pm2.js';
import { importStackApp } from '../tenant/app-migrations.js';
import type { ProxyDriver } from '../proxy/driver.js';
import { releaseSummary } from '../apps/releases.js';
import { SiloError } from '../common/errors.js';
import { refuseTakenPort, isOnline, driverFor, running, syncProxy, waitThroughProxy, waitWorker } from './live.js';

export { stackIsUp } from './live.js';
import { WAKER_APP, asleepTenants, hibernationStatus, startWaker } from '../hibernate/stack-hooks.js';

export const DEMO_TENANTS = ['client1', 'client2'];

type Log = (line: string) => void;

export function tenantUrl(cfg: SiloConfig, name: string, domains: string[] = []): string {
  const host = tenantHosts(cfg, name, { domains })[0];
  return `http://${host}${cfg.httpPort === 80 ? '' : `:${cfg.httpPort}`}/`;
}

export async function up(cfg: SiloConfig, log: Log): Promise<{ urls: string[]; already: boolean }> {
  const driver = driverFor(cfg);
  await ensureDefaultServer(cfg);
  const paths = homePaths(cfg.home);
  // Start what is missing under the registry lock: workers and the proxy config are
  // derived from the registry as it is now, and no create or remove runs meanwhile.
  const { reg, started } = await withRegistryLock(paths.registry, () => startMissing(cfg, driver, log));

  // Every tenant answers through the proxy.
  // Hibernated tenants are not waited for: a request would wake them.
  const ready = Object.entries(reg.tenants).filter(([, t]) => t.state === 'ready');
  const asleep = asleepTenants(cfg);
  await Promise.all(ready.filter(([name]) => !asleep.has(name)).map(([name, t]) => waitThroughProxy(cfg, name, tenantHosts(cfg, name, t)[0]!, 30_000))).catch((err) => {
    throw new SiloError(`the stack started but a tenant does not answer: ${(err as Error).message} (see silo status, and logs in ${paths.logs})`);
  });
  return { urls: ready.map(([name, t]) => tenantUrl(cfg, name, t.domains)), already: started === 0 };
}

/** Record whether the stack is supposed to run (commands then never start a private database). */
async function markRunning(cfg: SiloConfig, on: boolean): Promise<void> {
  if (readRegistry(homePaths(cfg.home).registry).settings?.running === on) return;
  await updateRegistry(homePaths(cfg.home).registry, (reg) => {
    if (reg.settings) reg.settings.running = on;
  });
}

async function startMissing(cfg: SiloConfig, driver: ProxyDriver, log: Log) {
  const paths = homePaths(cfg.home);
  // `up` on a stopped stack records the settings it runs with; on a running one they match.
  await updateRegistry(paths.registry, (r) => {
    for (const c of recordSettings(r, cfg, !r.settings?.running)) log(`${c.variable}: ${c.from} -> ${c.to} (recorded)`);
    r.settings!.running = true;
  });
  let reg = readRegistry(paths.registry);
  const before = await running();
  const proxyOnline = isOnline(before.get(PROXY_APP));
  if (!proxyOnline && !(await isPortFree(cfg.httpPort, cfg.httpHost))) {
    throw new SiloError(`port ${cfg.httpPort} on ${cfg.httpHost} is already in use: stop what holds it, or set SILO_HTTP_PORT`);
  }
  let started = 0;

  // 1. Database servers (embedded only; an external server is someone else's to run).
  if (!cfg.databaseUrl) {
    for (const server of embeddedServers(reg)) {
      const [app] = postgresApps(cfg, reg, server);
      if (!app || isOnline(before.get(app.name))) continue;
      await initialiseIfNeeded(embeddedOptions(cfg, reg, server));
      await pm2.startFresh(app);
      started++;
      log(`started ${app.name}`);
    }
  }

  // 2. Demo tenants on an empty registry (or one whose first demo creation was interrupted).
  if (!Object.values(reg.tenants).some((t) => t.state === 'ready')) {
    const app = await importStackApp(cfg);
    for (const name of DEMO_TENANTS) {
      await createTenant(cfg, name);
      reg = readRegistry(paths.registry);
      const sql = connectAs(tenantCredentials(cfg, reg, name));
      try {
        await app.seed?.(sql, name);
      } finally {
        await sql.end({ timeout: 5 });
      }
      log(`created demo tenant ${name}`);
    }
  }

  // 3. Workers, except hibernated ones (their first request starts them), and the waker.
  const asleep = asleepTenants(cfg);
  const workers = workerApps(cfg, reg).filter((a) => !isOnline(before.get(a.name)) && !asleep.has(String((a.env as Record<string, string>).TENANT)));
  await Promise.all(
    workers.map(async (app) => {
      await refuseTakenPort(Number((app.env as Record<string, string>).PORT), String((app.env as Record<string, string>).TENANT), before.get(app.name));
      await pm2.startFresh(app);
      await waitWorker(Number((app.env as Record<string, string>).PORT));
      started++;
      log(`started ${app.name}`);
    }),
  );

  if ((await startWaker(cfg, isOnline(before.get(WAKER_APP)))).started) {
    started++;
    log(`started ${WAKER_APP}`);
  }

  // 4. The proxy.
  await syncProxy(cfg, reg, proxyOnline);
  if (!proxyOnline) {
    await pm2.startFresh(proxyApp(cfg, driver));
    started++;
    log(`started ${cfg.proxy} on ${cfg.httpHost}:${cfg.httpPort}`);
  }

  // 5. Scheduled backups, when SILO_BACKUP_CRON is set (a backups app without it goes).
  for (const app of backupApps(cfg)) {
    if (isOnline(before.get(app.name))) continue;
    await pm2.startFresh(app);
    started++;
    log(`started ${app.name} (${cfg.backupCron})`);
  }
  if (!cfg.backupCron && before.has(BACKUP_APP)) await pm2.remove(BACKUP_APP);
  return { reg, started };
}

export async function down(cfg: SiloConfig, log: Log): Promise<number> {
  await markRunning(cfg, false);
  if (!pm2.daemonPid()) return 0;
  const apps = await pm2.list(NAMESPACE);
  // Proxy first (no new requests), then workers, then the database servers.
  const order = (n: string) => (n === PROXY_APP || n === WAKER_APP ? 0 : n.startsWith('tenant-') ? 1 : 2);
  const names = [...new Set(apps.map((a) => a.name))].sort((a, b) => order(a) - order(b));
  for (const phase of [0, 1, 2]) {
    await Promise.all(names.filter((n) => order(n) === phase).map((n) => pm2.remove(n).then(() => log(`stopped ${n}`))));
  }
  // Leave a daemon that runs other people's apps alone; stop it if it is now empty.
  await pm2.killDaemonIfIdle();
  return names.length;
}

export interface TenantStatus {
  name: string;
  url: string;
  worker: string;
  pid?: number;
  memoryMB?: number;
  restarts?: number;
  server: string;
  schemaVersion: number;
  state: string;
  /** why the proxy answers this tenant's hosts 503 (operator, restore, move), if it does */
  suspended?: string;
  /** the app release it runs (`silo deploy`); null: the stack's app */
  release: ReturnType<typeof releaseSummary>;
  /** hibernation: when it last served a request, how long ago, why its last wake failed */
  lastRequestAt?: string;
  idle?: string;
  wakeError?: string;
}

export interface StackStatus {
  up: boolean;
  proxy: { kind: string; status: string; pid?: number; listen: string };
  servers: { name: string; kind: string; status: string; host: string; port: number; pid?: number }[];
  /** scheduled backups (SILO_BACKUP_CRON), if set */
  backups?: { schedule: string; keep?: number; status: string };
  tenants: TenantStatus[];
}

export async function status(cfg: SiloConfig): Promise<StackStatus> {
  const reg = readRegistry(homePaths(cfg.home).registry);
  const procs = await running();
  const describe = (name: string) => {
    const p = procs.get(name);
    return {
      status: p?.pm2_env?.status ?? 'stopped',
      pid: p && p.pid > 0 ? p.pid : undefined,
      memoryMB: p?.monit ? Math.round(p.monit.memory / 1048576) : undefined,
      restarts: p?.pm2_env?.restart_time,
    };
  };
  const proxy = describe(PROXY_APP);
  const sleeping = hibernationStatus(cfg);
  return {
    up: isOnline(procs.get(PROXY_APP)),
    proxy: { kind: cfg.proxy, status: proxy.status, pid: proxy.pid, listen: `${cfg.httpHost}:${cfg.httpPort}` },
    ...(cfg.backupCron ? { backups: { schedule: cfg.backupCron, keep: cfg.backupKeep, status: describe(BACKUP_APP).status } } : {}),
    servers: Object.entries(reg.servers).map(([name, s]) => {
      const d = describe(postgresApp(name));
      return { name, kind: s.kind, host: s.host, port: s.port, status: s.kind === 'external' ? 'external' : d.status, pid: d.pid };
    }),
    tenants: Object.entries(reg.tenants)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, t]) => {
        const d = describe(workerApp(name));
        return {
          name,
          url: tenantUrl(cfg, name, t.domains),
          worker: d.status,
          ...sleeping(name, d.status),
          pid: d.pid,
          memoryMB: d.memoryMB,
          restarts: d.restarts,
          server: t.server,
          schemaVersion: t.schemaVersion,
          state: t.suspended ? 'suspended' : t.state,
          ...(t.suspended ? { suspended: t.suspended.by } : {}),
          release: releaseSummary(cfg, t.release?.id),
        };
      }),
  };
}

/** Restart workers one at a time; each new process is ready before the old one stops. */
export async function reload(cfg: SiloConfig, log: Log, only?: string): Promise<string[]> {
  const reg = readRegistry(homePaths(cfg.home).registry);
  if (only && !reg.tenants[only]) throw new SiloError(`no tenant named "${only.slice(0, 40)}"`);
  const procs = await running();
  if (!isOnline(procs.get(PROXY_APP))) throw new SiloError('the stack is not running: start it with silo up');
  const names = Object.keys(reg.tenants).filter((n) => (!only || n === only) && procs.has(workerApp(n))).sort();
  const done: string[] = [];
  for (const name of names) {
    // One tenant at a time under the lock, from the registry as it is then: a tenant
    // removed meanwhile is not started again, and changed settings reach the worker.
    const reloaded = await withRegistryLock(homePaths(cfg.home).registry, async () => {
      const now = readRegistry(homePaths(cfg.home).registry);
      const [app] = workerApps(cfg, now, name);
      if (!app || !(await running()).has(app.name)) return false;
      await pm2.reloadApp(app);
      await waitWorker(now.tenants[name]!.port);
      return true;
    });
    if (!reloaded) continue;
    done.push(name);
    log(`reloaded ${workerApp(name)}`);
  }
  return done;
}
