/**
 * Processes of this stack that nobody supervises any more: after the PM2 daemon dies
 * (or a wrapper is SIGKILLed), nginx or Caddy keeps the HTTP port and postgres keeps its
 * data directory and port. They are found through their own pid files, and told apart
 * from what PM2 runs and from a private server a running `silo` command started (whose
 * parent is that command).
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import type { Registry } from '../registry/registry.js';
import { runningPid, stopByPid } from '../postgres/embedded.js';
import { runningProxyPid } from '../proxy/driver.js';
import { isAlive, waitForExit } from '../common/processes.js';
import { NAMESPACE, PROXY_APP, embeddedServers, postgresApp } from '../pm2/ecosystem.js';
import { pm2Home } from '../pm2/pm2.js';
import { driverFor } from './live.js';
import { isOnline, type Running } from '../pm2/workers.js';

export interface Orphan {
  /** e.g. "nginx (pid 123)" */
  what: string;
  pid: number;
  stop(): Promise<void>;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * Reparented to init (or to a reaper): its parent is neither a node process (PM2, a
 * wrapper, a silo command) nor a process in `siblingDir` (an nginx master, for its workers).
 */
function abandoned(pid: number, siblingDir?: string): boolean {
  const ppid = parentOf(pid);
  if (ppid === undefined || ppid <= 1) return true;
  try {
    if (readFileSync(`/proc/${ppid}/cmdline`, 'utf8').includes('node')) return false;
    return !(siblingDir && readlinkSync(`/proc/${ppid}/cwd`) === siblingDir);
  } catch {
    return true;
  }
}

/** Processes PM2 started from `home` (its PM2_HOME) in silo's namespace, now parented by init. */
function abandonedApps(home: string): { pid: number; name: string }[] {
  const found: { pid: number; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!env.includes(`PM2_HOME=${home}`) || !env.includes(`namespace=${NAMESPACE}`)) continue;
      const ppid = parentOf(Number(entry));
      if (ppid !== undefined && ppid > 1 && isAlive(ppid)) continue;
      found.push({ pid: Number(entry), name: env.find((v) => v.startsWith('name='))?.slice(5) ?? 'an app' });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Abandoned processes whose working directory is `dir`. */
function abandonedIn(folder: string): number[] {
  const pids: number[] = [];
  let dir: string;
  try {
    dir = realpathSync(folder);
  } catch {
    return pids;
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === dir && abandoned(Number(entry), dir)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to inspect
    }
  }
  return pids;
}

async function stopProcess(pid: number, signals: NodeJS.Signals[]): Promise<void> {
  for (const sig of signals) {
    try {
      process.kill(pid, sig);
    } catch {
      return;
    }
    if (await waitForExit(pid, 10_000)) return;
  }
  if (isAlive(pid)) throw new Error(`pid ${pid} did not stop`);
}

export function findOrphans(cfg: SiloConfig, reg: Registry, procs: Running): Orphan[] {
  const orphans: Orphan[] = [];
  const proxy = procs.get(PROXY_APP);
  let driver;
  try {
    driver = driverFor(cfg);
  } catch {
    driver = undefined; // no proxy binary: nothing of it can run either
  }
  const proxyPid = driver ? runningProxyPid(driver) : undefined;
  if (driver && proxyPid && !(isOnline(proxy) && proxy!.pid === proxyPid)) {
    // Its workers' upstreams went with the PM2 daemon (every answer is a 502): a fast stop
    // (SIGTERM), not a graceful one that would wait on clients' keep-alive connections.
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGKILL'];
    orphans.push({ what: `${driver.kind} (pid ${proxyPid})`, pid: proxyPid, stop: () => stopProcess(proxyPid, signals) });
  }
  // Any other app PM2 started for this stack (the waker, the backup scheduler, a worker)
  // that outlived its daemon: PM2 marks each app's environment with its PM2_HOME and
  // namespace, and such a process has been reparented to init.
  for (const { pid, name } of abandonedApps(pm2Home())) {
    if (orphans.some((o) => o.pid === pid)) continue;
    orphans.push({ what: `${name} (pid ${pid})`, pid, stop: () => stopProcess(pid, ['SIGTERM', 'SIGKILL']) });
  }
  // nginx workers outlive a SIGKILLed master and keep serving the old config on their
  // reuseport sockets: every abandoned process running in the proxy's folder goes.
  if (driver) {
    for (const pid of abandonedIn(driver.dir)) {
      if (pid === proxyPid) continue;
      orphans.push({ what: `${driver.kind} process (pid ${pid})`, pid, stop: () => stopProcess(pid, ['SIGQUIT', 'SIGTERM', 'SIGKILL']) });
    }
  }
  for (const server of embeddedServers(reg)) {
    const pid = runningPid(homePaths(cfg.home).pgData(server));
    if (!pid) continue;
    const app = procs.get(postgresApp(server));
    if (isOnline(app) && parentOf(pid) === app!.pid) continue;
    if (!abandoned(pid)) continue; // a private server of a running silo command
    orphans.push({ what: `postgres of server ${server} (pid ${pid})`, pid, stop: () => stopByPid(pid) });
  }
  return orphans;
}

/** Stop abandoned processes in the proxy's folder (old nginx workers of a killed master). */
export async function stopAbandonedProxyProcesses(dir: string, keep?: number): Promise<number> {
  const pids = abandonedIn(dir).filter((p) => p !== keep);
  await Promise.all(pids.map((pid) => stopProcess(pid, ['SIGQUIT', 'SIGTERM', 'SIGKILL']).catch(() => undefined)));
  return pids.length;
}
