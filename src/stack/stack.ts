/**
 * The running stack under PM2: `silo up`, `down`, `status`, `reload`, and the hot
 * changes `tenant create` and `tenant remove` make while it is up. PM2 always acts on
 * one app at a time, and the proxy reloads gracefully, so nothing here fails a request
 * of a tenant it is not about.
 */
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mapLimit } from '../common/map-limit.js';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, tenantEntry, updateRegistry, withRegistryLock, writeRegistry, type Registry } from '../registry/registry.js';
import { recordSettings } from '../registry/settings.js';
import { embeddedOptions, ensureDefaultServer } from '../servers/servers.js';
import { DATABASE_RULES, ensureDatabaseRules } from '../servers/database-rules.js';
import { isPortFree } from '../common/ports.js';
import { tenantHosts } from '../common/names.js';
import { initialiseIfNeeded } from '../postgres/embedded.js';
import { type PM2App, BACKUP_APP, NAMESPACE, PROXY_APP, backupApps, embeddedServers, postgresApp, postgresApps, proxyApp, workerApp, workerApps } from '../pm2/ecosystem.js';
import * as pm2 from '../pm2/pm2.js';
import type { ProxyDriver } from '../proxy/driver.js';
import { ControlTakenOver, SiloError } from '../common/errors.js';
import { cpuGroup, osUser, worker, type PartContext, type TenantPart } from './parts/parts.js';
import { overTenants, type TenantOutcome } from '../servers/fleet.js';
import { driverFor, syncProxy, waitThroughProxy } from './live.js';
import { isOnline, running, type Running } from '../pm2/workers.js';
import { runtimeFor } from '../runtime/select.js';
import type { Workers } from '../runtime/runtime.js';
import { ensureRunDir, ensureTenantRunDir } from '../isolation/run-dirs.js';
import { runPaths } from '../common/run-dir.js';
import { findOrphans } from './orphans.js';
import { crashPoint, runSteps, type Step } from '../common/steps.js';
import { audited } from '../events/audit.js';

export { stackIsUp } from './live.js';
import { WAKER_APP, asleepTenants, startWaker } from '../hibernate/stack-hooks.js';
import { CEILINGS_APP, ceilingsApp } from '../pm2/ceilings-app.js';
import { CERTIFICATES_APP, certificateApps } from '../pm2/certificates-app.js';
import { CONTROL_APP, controlApps } from '../pm2/control-app.js';
import { EVENTS_APP, eventsApp } from '../pm2/events-app.js';

type Log = (line: string) => void;

/** Creates the demo tenants on an empty registry (tenant/demo.ts: stack/ cannot import tenant/). */
export type DemoTenants = (cfg: SiloConfig, log: Log, release?: string) => Promise<void>;

export function tenantUrl(cfg: SiloConfig, name: string, domains: string[] = []): string {
  const host = tenantHosts(cfg, name, { domains })[0];
  if (cfg.tls) return `https://${host}${cfg.httpsPort === 443 ? '' : `:${cfg.httpsPort}`}/`;
  return `http://${host}${cfg.httpPort === 80 ? '' : `:${cfg.httpPort}`}/`;
}

interface UpContext {
  cfg: SiloConfig;
  driver: ProxyDriver;
  log: Log;
  /** the registry as it is now (re-read after a step changes it) */
  reg: Registry;
  procs: Running;
  /** the tenants' workers on the stack's runtime */
  workers: Workers;
  started: number;
  /** the release demo tenants start on (a snapshot of SILO_APP) */
  release?: string;
  demoTenants?: DemoTenants;
}

async function refresh(c: UpContext): Promise<void> {
  c.reg = readRegistry(homePaths(c.cfg.home).registry);
  c.procs = await running();
  c.workers = await runtimeFor(c.cfg).workers();
}
const readyTenants = (c: UpContext) => Object.keys(c.reg.tenants).filter((n) => c.reg.tenants[n]!.state === 'ready');
const missingServers = (c: UpContext) => (c.cfg.databaseUrl ? [] : embeddedServers(c.reg).filter((s) => !isOnline(c.procs.get(postgresApp(s)))));
/** The settings a running process was started with, where they differ from its definition now. */
const outdated = (c: UpContext, app: PM2App, keys: string[]) => {
  const env = c.procs.get(app.name)?.pm2_env?.env ?? {};
  const want = app.env as Record<string, string>;
  return isOnline(c.procs.get(app.name)) && keys.some((k) => (env[k] ?? '') !== (want[k] ?? ''));
};
/** Embedded servers an older silo started on TCP: they take their Unix socket at a restart. */
const staleServers = (c: UpContext) => (c.cfg.databaseUrl ? [] : postgresApps(c.cfg, c.reg).filter((a) => outdated(c, a, ['SILO_PG_SOCKET_DIR'])));
/** Workers started with another address of their database server (an upgrade, a server's TLS). */
const staleWorkers = (c: UpContext) => workerApps(c.cfg, c.reg).filter((a) => outdated(c, a, ['DB_HOST', 'DB_PORT', 'DB_SSLMODE', 'DB_SSLROOTCERT']));
/** Ready tenants that are not hibernated (a hibernated one's first request starts its worker). */
const awakeTenants = (c: UpContext) => {
  const asleep = asleepTenants(c.cfg);
  return readyTenants(c).filter((n) => !asleep.has(n));
};

/** What a tenant's part is given during `up` (host and stack parts only: no server is opened). */
function partContext(c: UpContext, name: string): PartContext {
  return {
    cfg: c.cfg,
    name,
    paths: homePaths(c.cfg.home),
    reg: c.reg,
    live: true,
    workers: c.workers,
    server: () => Promise.reject(new Error(`up ensures no database part (${name})`)),
  };
}

/** The tenants among `names` whose `part` its check finds wrong. */
async function needing(c: UpContext, part: TenantPart, names: string[]): Promise<string[]> {
  const wrong = await Promise.all(names.map(async (n) => ((await part.check(partContext(c, n))) === undefined ? undefined : n)));
  return wrong.filter((n): n is string => n !== undefined);
}

/**
 * A step of `up` that ensures one part (stack/parts/) across tenants: done when its check
 * passes for each, else ensured for those it fails for (one after another, or `atOnce` at a time).
 */
function acrossTenants(step: string, part: TenantPart, tenants: (c: UpContext) => string[], opts: { atOnce?: number; log?: (c: UpContext, name: string) => void } = {}): Step<UpContext> {
  return {
    name: step,
    done: async (c) => (await needing(c, part, tenants(c))).length === 0,
    async run(c) {
      const ensure = async (name: string) => {
        await part.ensure(partContext(c, name));
        opts.log?.(c, name);
      };
      const names = await needing(c, part, tenants(c));
      await mapLimit(names, opts.atOnce ?? 1, ensure);
    },
  };
}

/**
 * `silo up` as a step list (see common/steps.ts), run under the registry lock so the
 * workers and the proxy config are derived from the registry as it is now and no
 * create or remove runs meanwhile. Every step starts only what is missing, so `up`
 * after a crash (of `up` itself, of a process, of the PM2 daemon) completes the stack.
 */
/**
 * A stack app that runs only when a setting asks for it: each wanted app started if it is
 * not online, and `name` removed when none is wanted (the setting was turned off).
 */
function optionalApps(step: string, name: string, wanted: (c: UpContext) => PM2App[], what: (c: UpContext) => string): Step<UpContext> {
  return {
    name: step,
    done: (c) => {
      const apps = wanted(c);
      return apps.every((a) => isOnline(c.procs.get(a.name))) && (apps.length > 0 || !c.procs.has(name));
    },
    async run(c) {
      const apps = wanted(c);
      for (const app of apps) {
        if (isOnline(c.procs.get(app.name))) continue;
        await pm2.startFresh(app);
        c.started++;
        c.log(`started ${app.name} ${what(c)}`);
      }
      if (apps.length === 0 && c.procs.has(name)) await pm2.remove(name);
    },
  };
}

export const upSteps: readonly Step<UpContext>[] = [
  {
    name: 'record-settings',
    async run(c) {
      // On a stopped stack `up` records the settings it runs with; on a running one they match.
      await updateRegistry(homePaths(c.cfg.home).registry, (r) => {
        for (const ch of recordSettings(r, c.cfg, !r.settings?.running)) c.log(`${ch.variable}: ${ch.from} -> ${ch.to} (recorded)`);
        r.settings!.running = true;
      });
      await refresh(c);
    },
  },
  {
    // After the PM2 daemon died: a proxy or postgres that nobody supervises any more.
    name: 'stop-orphans',
    done: (c) => findOrphans(c.cfg, c.reg, c.procs).length === 0,
    async run(c) {
      // Together: since workers run in fork mode they outlive a dead daemon too, and each
      // one closes gracefully (up to its grace period).
      await Promise.all(
        findOrphans(c.cfg, c.reg, c.procs).map(async (o) => {
          await o.stop();
          c.log(`stopped ${o.what}, left running without PM2`);
        }),
      );
    },
  },
  {
    name: 'check-port',
    done: (c) => isOnline(c.procs.get(PROXY_APP)),
    async run(c) {
      if (!(await isPortFree(c.cfg.httpPort, c.cfg.httpHost))) {
        throw new SiloError(`port ${c.cfg.httpPort} on ${c.cfg.httpHost} is already in use: stop what holds it, or set SILO_HTTP_PORT`);
      }
      if (c.cfg.tls && !(await isPortFree(c.cfg.httpsPort, c.cfg.httpHost))) {
        throw new SiloError(`port ${c.cfg.httpsPort} on ${c.cfg.httpHost} is already in use: stop what holds it, or set SILO_HTTPS_PORT`);
      }
    },
  },
  {
    name: 'start-postgres',
    done: (c) => missingServers(c).length === 0 && staleServers(c).length === 0,
    async run(c) {
      for (const app of staleServers(c)) {
        await pm2.startFresh(app);
        c.log(`restarted ${app.name} on its Unix socket (it listened on TCP)`);
      }
      for (const server of missingServers(c)) {
        const [app] = postgresApps(c.cfg, c.reg, server);
        await initialiseIfNeeded(embeddedOptions(c.cfg, c.reg, server));
        await pm2.startFresh(app!);
        c.started++;
        c.log(`started ${app!.name}`);
      }
      await refresh(c);
    },
  },
  {
    // On an empty registry, or one whose first demo creation was interrupted: the demo
    // tenants, made by the tenant layer (tenant/demo.ts) through the hook `up` is given.
    name: 'demo-tenants',
    done: (c) => Object.values(c.reg.tenants).some((t) => t.state === 'ready'),
    async run(c) {
      await c.demoTenants?.(c.cfg, c.log, c.release);
      await refresh(c);
    },
  },
  {
    // A tenant an older silo created gets the database rules it lacks (its dump role,
    // other tenants' names hidden in its database: tenant/database-rules.ts) here,
    // without a manual step; the registry records which rules each tenant has, so this
    // looks at a tenant once per new set. A tenant whose server does not answer is
    // reported and skipped: it is looked at by the next `up`.
    name: 'database-rules',
    done: (c) => readyTenants(c).every((n) => (c.reg.tenants[n]!.databaseRules ?? 0) >= DATABASE_RULES),
    async run(c) {
      const behind = readyTenants(c).filter((n) => (c.reg.tenants[n]!.databaseRules ?? 0) < DATABASE_RULES);
      // The one loop over tenants (servers/fleet.ts), one at a time: `up` holds the registry
      // lock, and each server is opened once for all of its tenants.
      const results = await overTenants<TenantOutcome>(c.cfg, behind, { concurrency: 1 }, async (name, shared) => {
        const fixed = await ensureDatabaseRules(c.cfg, c.reg, await shared(c.reg.tenants[name]!.server), name);
        for (const f of fixed) c.log(`${name}: ${f}`);
        return { tenant: name, ok: true };
      });
      for (const r of results) if (!r.ok) c.log(`${r.tenant}: database rules not checked: ${r.error} (silo tenant repair ${r.tenant})`);
      await updateRegistry(homePaths(c.cfg.home).registry, (r) => {
        for (const { tenant } of results.filter((x) => x.ok)) if (r.tenants[tenant]) r.tenants[tenant]!.databaseRules = DATABASE_RULES;
      });
      await refresh(c);
    },
  },
  // Under root each worker runs as its tenant's own Unix user: made here for tenants
  // created before that (create makes it for new ones).
  acrossTenants('tenant-users', osUser, readyTenants),
  // Where cgroups exist: each worker's groups with its CPU quota, processes and memory
  // ceilings; and its temporary folder (create makes them for new tenants).
  acrossTenants('cpu-groups', cpuGroup, readyTenants),
  {
    // The folders the workers' and the waker's sockets go in (src/isolation/run-dirs.ts);
    // the routes come with the proxy config (route), once the workers have started.
    name: 'run-dirs',
    run(c) {
      ensureRunDir(c.cfg);
      for (const name of readyTenants(c)) ensureTenantRunDir(c.cfg, name);
    },
  },
  // Workers not online (or run in cluster mode by an older silo): the awake tenants only
  // (hibernated ones start on their first request), as many at a time as there are cores:
  // a start is mostly CPU, and after a reboot or a dead PM2 daemon hundreds at once would
  // each take hundreds of times longer.
  acrossTenants('start-workers', worker, awakeTenants, {
    atOnce: Math.max(2, availableParallelism()),
    log(c, name) {
      c.started++;
      c.log(`started ${workerApp(name)}`);
    },
  }),
  {
    // After an upgrade (the embedded server moved to its socket), one at a time, each
    // ready before the old one stops.
    name: 'refresh-workers',
    done: (c) => staleWorkers(c).length === 0,
    async run(c) {
      for (const app of staleWorkers(c)) {
        const tenant = String((app.env as Record<string, string>).TENANT);
        await runtimeFor(c.cfg).reload(c.cfg, c.reg, tenant);
        await runtimeFor(c.cfg).waitReady(c.cfg, tenant);
        c.log(`reloaded ${app.name}: its database server's address changed`);
      }
      await refresh(c);
    },
  },
  {
    // The waker: stops idle workers and starts them again on their next request.
    name: 'start-waker',
    done: (c) => isOnline(c.procs.get(WAKER_APP)),
    async run(c) {
      if ((await startWaker(c.cfg, false)).started) {
        c.started++;
        c.log(`started ${WAKER_APP}`);
      }
    },
  },
  {
    name: 'route',
    run: (c) => syncProxy(c.cfg, c.reg, isOnline(c.procs.get(PROXY_APP))),
  },
  {
    name: 'start-proxy',
    done: (c) => isOnline(c.procs.get(PROXY_APP)),
    async run(c) {
      await pm2.startFresh(proxyApp(c.cfg, c.driver));
      c.started++;
      c.log(`started ${c.cfg.proxy} on ${c.cfg.httpHost}:${c.cfg.httpPort}${c.cfg.tls ? ` and https ${c.cfg.httpHost}:${c.cfg.httpsPort}` : ''}`);
    },
  },
  {
    // SILO_RUNTIME=swarm with SILO_EDGE_PORT: the proxy as a global service on the nodes
    // labelled silo.edge=true (src/runtime/swarm/edge-service.ts), fed by the waker.
    name: 'start-edge',
    async run(c) {
      const edge = c.cfg.runtime === 'swarm' && c.cfg.edgePort > 0 ? runtimeFor(c.cfg).edge : undefined;
      if (edge && (await edge.ensure(c.cfg))) c.log(`started the edge service on port ${c.cfg.edgePort} of the nodes labelled silo.edge=true`);
    },
  },
  {
    // Tenants' logs capped on disk, database sizes against their ceilings (src/ceilings/).
    name: 'start-ceilings',
    done: (c) => isOnline(c.procs.get(CEILINGS_APP)),
    async run(c) {
      await pm2.startFresh(ceilingsApp(c.cfg));
      c.started++;
      c.log(`started ${CEILINGS_APP}`);
    },
  },
  {
    // Webhook deliveries from the outbox (src/events/deliver-main.ts).
    name: 'start-events',
    done: (c) => isOnline(c.procs.get(EVENTS_APP)),
    async run(c) {
      await pm2.startFresh(eventsApp(c.cfg));
      c.started++;
      c.log(`started ${EVENTS_APP}`);
    },
  },
  // Scheduled backups, when SILO_BACKUP_CRON is set (a backups app without it goes).
  optionalApps('start-backups', BACKUP_APP, (c) => backupApps(c.cfg), (c) => `(${c.cfg.backupCron})`),
  // nginx with ACME: the renewal job (a certificates app without it goes).
  optionalApps('start-certificates', CERTIFICATES_APP, (c) => certificateApps(c.cfg), (c) => `(${c.cfg.acmeDirectory})`),
  // SILO_CONTROL=on: the control API on <run>/control.sock (src/control/control-main.ts).
  optionalApps('start-control', CONTROL_APP, (c) => controlApps(c.cfg), (c) => `on ${runPaths(c.cfg.home).controlSocket}`),
  {
    // SILO_RUNTIME=swarm: the registry and the secrets copied into the swarm, where any
    // manager can take the control plane over (src/runtime/swarm/control-state.ts); the
    // waker copies each later change.
    name: 'copy-control-state',
    async run(c) {
      await runtimeFor(c.cfg).controlState?.publish(c.cfg);
    },
  },
];

export function up(cfg: SiloConfig, log: Log, opts: { release?: string; demoTenants?: DemoTenants } = {}): Promise<{ urls: string[]; already: boolean }> {
  return audited(cfg, 'stack.up', undefined, () => startStack(cfg, log, opts));
}

async function startStack(cfg: SiloConfig, log: Log, opts: { release?: string; demoTenants?: DemoTenants }): Promise<{ urls: string[]; already: boolean }> {
  const driver = driverFor(cfg);
  // Before anything is written: a swarm whose stack another home controls (this host was
  // the control host and another took over, or a fresh home beside a running stack).
  await runtimeFor(cfg).controlState?.check(cfg);
  await ensureDefaultServer(cfg);
  const paths = homePaths(cfg.home);
  const c: UpContext = { cfg, driver, log, reg: readRegistry(paths.registry), procs: new Map(), workers: new Map(), started: 0, release: opts.release, demoTenants: opts.demoTenants };
  await withRegistryLock(paths.registry, async () => {
    await refresh(c);
    await runSteps('up', upSteps, c);
  });

  // Every tenant answers through the proxy. Hibernated tenants are not waited for: a
  // request would wake them.
  const ready = Object.entries(c.reg.tenants).filter(([, t]) => t.state === 'ready');
  const asleep = asleepTenants(cfg);
  await Promise.all(ready.filter(([name]) => !asleep.has(name)).map(([name, t]) => waitThroughProxy(cfg, name, tenantHosts(cfg, name, t)[0]!, 30_000))).catch((err) => {
    throw new SiloError(`the stack started but a tenant does not answer: ${(err as Error).message} (see silo status, and logs in ${paths.logs})`);
  });
  return { urls: ready.map(([name, t]) => tenantUrl(cfg, name, t.domains)), already: c.started === 0 };
}

/** Stop everything `up` started, and whatever of this stack runs without PM2. */
export async function down(cfg: SiloConfig, log: Log): Promise<number> {
  const paths = homePaths(cfg.home);
  return audited(cfg, 'stack.down', undefined, () => withRegistryLock(paths.registry, async () => {
    const reg = readRegistry(paths.registry);
    if (reg.settings?.running) {
      reg.settings.running = false;
      writeRegistry(paths.registry, reg);
    }
    let stopped = 0;
    if (pm2.daemonPid()) {
      const apps = await pm2.list(NAMESPACE);
      // Proxy first (no new requests), then workers, then the database servers.
      const order = (n: string) => (n === PROXY_APP || n === WAKER_APP || n === CONTROL_APP ? 0 : n.startsWith('tenant-') ? 1 : 2);
      const names = [...new Set(apps.map((a) => a.name))].sort((a, b) => order(a) - order(b));
      for (const phase of [0, 1, 2]) {
        await Promise.all(names.filter((n) => order(n) === phase).map((n) => pm2.remove(n).then(() => log(`stopped ${n}`))));
      }
      stopped += names.length;
      // Leave a daemon that runs other people's apps alone; stop it if it is now empty.
      await pm2.killDaemonIfIdle();
    }
    if (cfg.runtime !== 'pm2') {
      // Workers on other hosts (a Swarm's services): stopped after the proxy, as PM2's are.
      // Engines that do not answer leave them running: `down` still stops what runs here.
      const runtime = runtimeFor(cfg);
      try {
        // A home another took over stops what runs here only: the stack is the other's now.
        await runtime.controlState?.check(cfg);
        if (await runtime.edge?.remove()) {
          log('stopped the edge service');
          stopped++;
        }
        // And a hibernated tenant's service (scaled to 0: no worker runs, its service stays).
        // Several at once: each waits for its task to stop before its secret can go.
        await mapLimit([...new Set([...(await runtime.workers()).keys(), ...Object.keys(reg.tenants)])], 8, async (name) => {
          if (!(await runtime.stop(name))) return;
          log(`stopped ${workerApp(name)} (${runtime.kind})`);
          stopped++;
        });
      } catch (err) {
        if (err instanceof ControlTakenOver) log(`the edge and the tenants' workers on the ${runtime.kind} left running: another home controls the stack now`);
        else log(`tenants' workers on the ${runtime.kind} not stopped: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    // The sockets' folders go with the processes (up makes them again).
    rmSync(runPaths(cfg.home).dir, { recursive: true, force: true });
    await Promise.all(
      findOrphans(cfg, reg, new Map()).map(async (o) => {
        await o.stop();
        log(`stopped ${o.what}, left running without PM2`);
        stopped++;
      }),
    );
    return stopped;
  }));
}

/** Restart workers one at a time, each without a moment where no ready process serves it. */
export async function reload(cfg: SiloConfig, log: Log, only?: string): Promise<string[]> {
  const reg = readRegistry(homePaths(cfg.home).registry);
  if (only) tenantEntry(reg, only);
  if (!isOnline((await running()).get(PROXY_APP))) throw new SiloError('the stack is not running: start it with silo up');
  const runtime = runtimeFor(cfg);
  const workers = await runtime.workers();
  const names = Object.keys(reg.tenants).filter((n) => (!only || n === only) && workers.has(n)).sort();
  const done: string[] = [];
  for (const name of names) {
    // One tenant at a time under the lock, from the registry as it is then: a tenant
    // removed meanwhile is not started again, and changed settings reach the worker.
    const reloaded = await withRegistryLock(homePaths(cfg.home).registry, async () => {
      const now = readRegistry(homePaths(cfg.home).registry);
      if (!now.tenants[name] || !(await runtime.workers()).has(name)) return false;
      crashPoint('reload', 'reload-worker');
      // Under PM2 a stand-in serves while PM2 stops and starts it (fork mode), so no
      // request waits for a start (src/pm2/workers.ts).
      await runtime.restart(cfg, now, name);
      return true;
    });
    if (!reloaded) continue;
    done.push(name);
    log(`reloaded ${workerApp(name)}`);
  }
  return done;
}
