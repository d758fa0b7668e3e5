/**
 * `silo status`: what runs and whether it really answers. A database server's status is
 * the result of a real query, and the proxy's of a real HTTP request (an unknown host
 * must get the proxy's own 404), not PM2's view, which reports a wrapper whose postgres
 * died, or misses an orphaned proxy, as it pleases; PM2's view is shown beside it.
 */
import { certificateOf, type CertState } from '../proxy/tls/store.js';
import { servedHosts } from '../proxy/tls/model.js';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry } from '../registry/registry.js';
import { serverProblem } from '../servers/servers.js';
import { BACKUP_APP, PROXY_APP, postgresApp } from '../pm2/ecosystem.js';
import { CONTROL_APP } from '../pm2/control-app.js';
import { runPaths } from '../common/run-dir.js';
import { driverFor } from './live.js';
import { running } from '../pm2/workers.js';
import { runtimeFor } from '../runtime/select.js';
import { tenantUrl } from './stack.js';
import { releaseSummary } from '../apps/releases.js';
import { hibernationStatus } from '../hibernate/stack-hooks.js';
import { perTenantUsers } from '../isolation/tenant-user.js';
import { connectionLimit, tenantCeilings, tenantLimits } from '../isolation/limits.js';
import { tenantLogBytes } from '../isolation/ceilings.js';
import { databaseUse, serverConnections } from '../servers/database-use.js';
import { busyAtOnce, poolSize } from '../servers/connection-budget.js';
import { detectCgroups, readTenantCgroup } from '../isolation/cgroups.js';
import { processUid, userName } from '../isolation/os-users.js';

export interface TenantStatus {
  name: string;
  url: string;
  worker: string;
  /** the host its worker runs on (SILO_RUNTIME=swarm: a Swarm node) */
  node?: string;
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
  /** the Unix user its worker process runs as */
  user?: string;
  /** requests per second at the proxy (0: none), CPU quota in percent of one core (0: none), and whether its worker is in its CPU group */
  limits: { rate: number; cpu: number; cpuGroup: boolean };
  /** its use against its ceilings (src/isolation/limits.ts); `used` absent when not measurable now */
  ceilings: TenantCeilings;
}

/** Use and ceiling of each shared resource; a ceiling of 0 means none. */
export interface TenantCeilings {
  /** processes and threads in its group (cgroups) */
  pids: { used?: number; max: number };
  /** memory bytes in its group; `oomKills`: times the kernel killed in it at the ceiling */
  memory: { used?: number; max: number; oomKills?: number };
  /** its log files on disk, bytes */
  logs: { used: number; max: number };
  /** its database's size, bytes; `refused`: over its ceiling, suspended and its role blocked */
  database: { used?: number; max: number; refused: boolean };
  /** sessions its role holds on its server, against its role's CONNECTION LIMIT */
  connections: { used?: number; max: number };
}

export interface ServerStatus {
  name: string;
  kind: string;
  /** `online` when it answered a query just now, else `down` */
  status: 'online' | 'down';
  /** PM2's state of its supervising app (embedded servers) */
  pm2?: string;
  error?: string;
  host: string;
  port: number;
  pid?: number;
  restarts?: number;
  /**
   * its connection budget (src/servers/connection-budget.ts), read from the server just
   * now: `used` by tenants of `budget`; `others`: silo's own and anyone else's sessions;
   * `pool`: each of its workers' pool (its share of the budget, at most SILO_POOL_MAX);
   * `busyAtOnce`: tenants that can be busy at once, each with its whole pool, before one
   * waits; `awake`: its tenants with a running worker, `tenants`: all of them
   */
  connections?: {
    used: number;
    budget: number;
    others: number;
    maxConnections: number;
    superuserReserved: number;
    pool: number;
    busyAtOnce: number;
    awake: number;
    tenants: number;
  };
}

export interface StackStatus {
  /** the proxy answers */
  up: boolean;
  /** `silo up` ran and `silo down` has not since */
  supposedToRun: boolean;
  proxy: { kind: string; status: 'online' | 'down'; pm2: string; pid?: number; restarts?: number; listen: string };
  servers: ServerStatus[];
  /** `own`: each worker runs as its tenant's own Unix user (silo runs as root); `shared`: all as silo's user */
  workerUsers: 'own' | 'shared';
  /** how CPU limits are enforced: `cgroup v2`, `cgroup v1`, or why they are not */
  cpuLimits: string;
  /** SILO_TLS=on: the HTTPS listener and each served host's certificate (issued, expires, last error) */
  tls?: { listen: string; certificates: CertState[] };
  /** scheduled backups (SILO_BACKUP_CRON), if set */
  backups?: { schedule: string; keep?: number; status: string };
  /** SILO_CONTROL=on: the control API's socket, its URL through the proxy (SILO_CONTROL_HOST, else null), its PM2 status */
  control?: { socket: string; url: string | null; status: string; pid?: number };
  tenants: TenantStatus[];
}

const controlUrl = (cfg: SiloConfig, host: string) =>
  cfg.tls ? `https://${host}${cfg.httpsPort === 443 ? '' : `:${cfg.httpsPort}`}/` : `http://${host}${cfg.httpPort === 80 ? '' : `:${cfg.httpPort}`}/`;

/** The proxy answers an unknown host with its own 404 (see ProxyDriver.status). */
async function proxyAnswers(cfg: SiloConfig): Promise<boolean> {
  try {
    return (await driverFor(cfg).status({ host: cfg.httpHost, port: cfg.httpPort })).answers;
  } catch {
    return false; // no proxy binary: nothing answers
  }
}

export async function status(cfg: SiloConfig): Promise<StackStatus> {
  const reg = readRegistry(homePaths(cfg.home).registry);
  const [procs, workers] = await Promise.all([running(), runtimeFor(cfg).workers()]);
  const worker = (name: string) => {
    const w = workers.get(name);
    return { status: w?.state ?? 'stopped', pid: w?.pid, memoryMB: w?.memoryMB, restarts: w?.restarts, node: w?.node };
  };
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
  const cgroups = detectCgroups();
  const sleeping = hibernationStatus(cfg);
  const [answers, problems, dbUse, conns] = await Promise.all([
    proxyAnswers(cfg),
    Promise.all(Object.keys(reg.servers).map((name) => serverProblem(cfg, name))),
    databaseUse(cfg, reg),
    serverConnections(cfg, reg),
  ]);
  const onServer = (server: string) => Object.keys(reg.tenants).filter((n) => reg.tenants[n]!.server === server);
  return {
    up: answers,
    supposedToRun: reg.settings?.running === true,
    workerUsers: perTenantUsers() ? 'own' : 'shared',
    cpuLimits: cgroups.version === 'unavailable' ? `unavailable: ${cgroups.reason}` : `cgroup ${cgroups.version}`,
    ...(cfg.tls
      ? { tls: { listen: `${cfg.httpHost}:${cfg.httpsPort}`, certificates: servedHosts(cfg, reg).map((h) => certificateOf(cfg, h) ?? { host: h, source: 'local' as const, lastError: 'no certificate yet' }) } }
      : {}),
    ...(cfg.backupCron ? { backups: { schedule: cfg.backupCron, keep: cfg.backupKeep, status: describe(BACKUP_APP).status } } : {}),
    ...(cfg.control ? { control: { socket: runPaths(cfg.home).controlSocket, url: cfg.controlHost ? controlUrl(cfg, cfg.controlHost) : null, status: describe(CONTROL_APP).status, pid: describe(CONTROL_APP).pid } } : {}),
    proxy: { kind: cfg.proxy, status: answers ? 'online' : 'down', pm2: proxy.status, pid: proxy.pid, restarts: proxy.restarts, listen: `${cfg.httpHost}:${cfg.httpPort}` },
    servers: Object.entries(reg.servers).map(([name, s], i) => {
      const d = describe(postgresApp(name));
      const problem = problems[i];
      const c = conns.get(name);
      const tenants = onServer(name);
      return {
        name,
        kind: s.kind,
        status: problem ? 'down' : 'online',
        ...(problem ? { error: problem } : {}),
        ...(s.kind === 'embedded' ? { pm2: d.status, pid: d.pid, restarts: d.restarts } : {}),
        host: s.host,
        port: s.port,
        ...(c
          ? {
              connections: {
                ...c,
                pool: poolSize(c.budget, tenants.length, cfg.poolMax),
                busyAtOnce: busyAtOnce(c.budget, poolSize(c.budget, tenants.length, cfg.poolMax)),
                awake: tenants.filter((n) => worker(n).status === 'online').length,
                tenants: tenants.length,
              },
            }
          : {}),
      };
    }),
    tenants: Object.entries(reg.tenants)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, t]) => {
        const d = worker(name);
        const group = readTenantCgroup(cfg.home, name, cgroups);
        const max = tenantCeilings(cfg, t);
        const db = dbUse.get(name);
        const ceilings: TenantCeilings = {
          pids: { used: group?.tasks?.current, max: group?.tasks?.max ?? max.pids },
          memory: { used: group?.memory?.current, max: group?.memory?.max ?? max.memory, ...(group?.memory?.oomKills !== undefined ? { oomKills: group.memory.oomKills } : {}) },
          logs: { used: tenantLogBytes(cfg.home, name), max: max.logs },
          database: { used: db?.bytes, max: max.dbSize, refused: t.suspended?.by === 'ceiling' },
          connections: { used: db?.connections, max: connectionLimit(cfg) },
        };
        return {
          name,
          url: tenantUrl(cfg, name, t.domains),
          worker: d.status,
          ...(d.node ? { node: d.node } : {}),
          ...sleeping(name, d.status),
          pid: d.pid,
          memoryMB: d.memoryMB,
          restarts: d.restarts,
          server: t.server,
          schemaVersion: t.schemaVersion,
          state: t.suspended ? 'suspended' : t.state,
          ...(t.suspended ? { suspended: t.suspended.by } : {}),
          release: releaseSummary(cfg, t.release?.id),
          ...(d.pid !== undefined ? { user: userName(processUid(d.pid) ?? -1) } : {}),
          limits: { ...tenantLimits(cfg, t), cpuGroup: d.pid !== undefined && (group?.pids.includes(d.pid) ?? false) },
          ceilings,
        };
      }),
  };
}
