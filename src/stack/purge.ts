/**
 * `silo down --purge`: the way back. `silo down` keeps everything (the stack comes back
 * with `silo up`); deleting the state folder by hand leaves what silo made outside it.
 * A purge removes all of it for one state folder, in this order:
 *
 *   stop       `silo down`: PM2 apps, the waker, the proxy, the embedded servers
 *   processes  whatever still runs for this folder (its path on the command line, or a
 *              tenant user of it as owner): SIGTERM, then SIGKILL
 *   users      each tenant's Unix user and its group (only users whose comment silo
 *              wrote for this folder), and its proxy's user
 *   run folder the folder of its workers' sockets under /run/silo
 *   cgroups    the folder's CPU (and any other controller's) groups `silo-<id>`
 *   folder     the state folder itself: registry, secrets, embedded databases, backups
 *
 * `purgePlan` says all of that before anything is done; the CLI prints it and asks.
 * A folder without registry.json (a first `silo up` that failed before writing it) is
 * purged too when it holds only what silo makes (common/paths.ts, isHomeEntry): nothing of
 * its stack was started then, so `stop` is skipped and its processes go by the rule above.
 * Not touched: tenant databases on external servers (`silo server add`, SILO_DATABASE_URL:
 * remove those tenants first), the shared `postgres` user and /var/lib/silo binaries.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SiloConfig } from '../common/config.js';
import { homePaths, isHomeEntry } from '../common/paths.js';
import { readRegistry } from '../registry/registry.js';
import { lookupUser, processUid, removeSystemUser } from '../isolation/os-users.js';
import { homeGroup } from '../isolation/cgroups.js';
import { tenantUsersOf } from '../isolation/tenant-user.js';
import { proxyUsersOf } from '../isolation/run-dirs.js';
import { runPaths } from '../common/run-dir.js';
import { down } from './stack.js';
import { runtimeFor } from '../runtime/select.js';
import { SiloError } from '../common/errors.js';

export interface PurgePlan {
  home: string;
  /** the folder exists (a purge of a folder already gone still cleans the host) */
  folder: boolean;
  /** it holds a registry (without one, its stack was never started: only leftovers go) */
  registry: boolean;
  /** tenant Unix users made for this folder */
  users: string[];
  /** control-group folders made for this folder */
  cgroups: string[];
  /** the folder of its sockets (under /run/silo) */
  runDir?: string;
  /** processes still running for this folder, before `down` */
  processes: number[];
  /** tenants on external servers, whose databases a purge leaves */
  external: { tenant: string; server: string }[];
  backups: number;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every `silo-<id>` group of this folder: under cgroup v2's root and each v1 controller. */
export function homeCgroups(home: string): string[] {
  const name = homeGroup(home);
  const bases = [CGROUP_ROOT];
  try {
    for (const e of readdirSync(CGROUP_ROOT, { withFileTypes: true })) if (e.isDirectory()) bases.push(join(CGROUP_ROOT, e.name));
  } catch {
    return [];
  }
  return [...new Set(bases.map((b) => join(b, name)).filter((d) => existsSync(d)))];
}

/** Tenant users of exactly this folder (not of folders inside it), and its proxy user. */
export function homeUsers(home: string): string[] {
  const comment = `of ${resolve(home)}`.replace(/[:,\n]/g, '_');
  return [...tenantUsersOf(home).filter((u) => lookupUser(u)?.comment?.endsWith(comment)), ...proxyUsersOf(home)];
}

/** The folder of its workers' sockets under /run/silo, if there is one. */
function homeRunDir(home: string): string | undefined {
  const dir = runPaths(resolve(home)).dir;
  return existsSync(dir) ? dir : undefined;
}

/** This process and the ones that started it: never signalled. */
function ancestors(): Set<number> {
  const mine = new Set<number>([process.pid]);
  let pid = process.ppid;
  while (pid > 1 && !mine.has(pid)) {
    mine.add(pid);
    try {
      pid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      break;
    }
  }
  return mine;
}

/** Processes with the folder on their command line, or run by one of its tenant users. */
export function homeProcesses(home: string, users: string[] = homeUsers(home)): number[] {
  const uids = new Set(users.map((u) => lookupUser(u)?.uid).filter((u): u is number => u !== undefined));
  const folder = resolve(home);
  const skip = ancestors();
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || skip.has(Number(entry))) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const uid = processUid(Number(entry));
      if (cmdline.includes(folder) || (uid !== undefined && uids.has(uid))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : e.name.endsWith('.dump') ? 1 : 0;
  return n;
}

/** A folder that is not a silo state folder (no registry, and something silo does not make) is never deleted. */
function refuseForeign(home: string): void {
  if (!existsSync(home)) return;
  const entries = statSync(home).isDirectory() ? readdirSync(home) : ['?'];
  if (home === '/' || (!entries.includes('registry.json') && !entries.every(isHomeEntry))) {
    throw new SiloError(`${home} does not look like a silo state folder (no registry.json): refusing to purge it`);
  }
}

export function purgePlan(cfg: SiloConfig): PurgePlan {
  const home = resolve(cfg.home);
  refuseForeign(home);
  const folder = existsSync(home) && statSync(home).isDirectory();
  const reg = folder ? readRegistry(homePaths(home).registry) : undefined;
  const external = Object.entries(reg?.tenants ?? {})
    .filter(([, t]) => reg!.servers[t.server]?.kind === 'external')
    .map(([tenant, t]) => ({ tenant, server: t.server }));
  const users = homeUsers(home);
  return { home, folder, registry: existsSync(homePaths(home).registry), users, cgroups: homeCgroups(home), runDir: homeRunDir(home), processes: homeProcesses(home, users), external, backups: countFiles(homePaths(home).backups) };
}

/** The plan in lines, for the person who confirms it. */
export function describePlan(p: PurgePlan): string[] {
  const lines = [`silo down --purge removes everything silo made for ${p.home}:`];
  const running = p.processes.length ? `; ${p.processes.length} process(es) of it run now` : '';
  lines.push(p.folder && !p.registry ? `  no stack to stop (it never started)${running}` : `  stop its stack (PM2 apps, proxy, waker, embedded PostgreSQL)${running}`);
  lines.push(p.users.length ? `  remove ${p.users.length} Unix user(s) and their groups: ${p.users.join(', ')}` : '  no Unix users to remove');
  lines.push(p.cgroups.length ? `  remove its control groups: ${p.cgroups.join(', ')}` : '  no control groups to remove');
  if (p.runDir) lines.push(`  remove the folder of its sockets ${p.runDir}`);
  if (!p.folder) lines.push(`  (the folder ${p.home} is already gone)`);
  else if (!p.registry) lines.push(`  delete the folder ${p.home}: it has no registry.json (a first silo up that failed), only what that left`);
  else lines.push(`  delete the folder ${p.home}: registry, secrets, databases and ${p.backups} backup(s), for good`);
  if (p.external.length) {
    lines.push(`  NOT dropped: the databases of ${p.external.map((e) => `${e.tenant} (on ${e.server})`).join(', ')}; remove those tenants first to drop them`);
  }
  return lines;
}

async function stopProcesses(pids: number[]): Promise<number[]> {
  const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  for (let i = 0; i < 50 && pids.some((p) => safe(() => alive(p))); i++) await sleep(100);
  const left = pids.filter((p) => safe(() => alive(p)));
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return left;
}

function safe(fn: () => boolean): boolean {
  try {
    return fn();
  } catch {
    return false;
  }
}

/** Remove a group folder and the groups inside it (each empty once its processes are gone). */
function removeGroup(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeGroup(join(dir, e.name));
  rmdirSync(dir);
}

export interface PurgeResult {
  /** what could not be removed, one line each (empty: the host is clean) */
  left: string[];
  /** what was removed, in a few words each ("2 process(es)", "user silo1a2b-_check", "the folder") */
  removed: string[];
}

export async function purge(cfg: SiloConfig, log: (line: string) => void): Promise<PurgeResult> {
  const home = resolve(cfg.home);
  refuseForeign(home);
  const left: string[] = [];
  const removed: string[] = [];
  if (existsSync(homePaths(home).registry)) {
    try {
      await down(cfg, log);
    } catch (err) {
      log(`silo down failed (${(err as Error).message.split('\n')[0]}): stopping its processes directly`);
    }
    // SILO_RUNTIME=swarm: the copies of its state in the swarm go too (unless another home controls it now).
    const copies = await runtimeFor(cfg).controlState?.forget(cfg).catch((err: Error) => {
      log(`the control state's copies in the swarm left: ${err.message.split('\n')[0]}`);
      return 0;
    });
    if (copies) {
      log(`removed ${copies} copies of the control state from the swarm`);
      removed.push(`${copies} control state copies`);
    }
  }
  const users = homeUsers(home);
  const pids = homeProcesses(home, users);
  const killed = await stopProcesses(pids);
  if (killed.length) log(`killed ${killed.length} process(es) that did not stop: ${killed.join(', ')}`);
  if (pids.length) removed.push(`${pids.length} process(es)`);
  for (const user of users) {
    try {
      removeSystemUser(user);
      log(`removed user ${user}`);
      removed.push(`user ${user}`);
    } catch (err) {
      left.push(`user ${user}: ${(err as Error).message}`);
    }
  }
  for (const dir of homeCgroups(home)) {
    try {
      removeGroup(dir);
      log(`removed ${dir}`);
      removed.push(dir);
    } catch (err) {
      left.push(`${dir}: ${(err as Error).message}`);
    }
  }
  const run = homeRunDir(home);
  if (run) {
    rmSync(run, { recursive: true, force: true });
    log(`removed ${run}`);
    removed.push(run);
  }
  if (existsSync(home)) {
    rmSync(home, { recursive: true, force: true });
    log(`deleted ${home}`);
    removed.push('the folder');
  }
  return { left, removed };
}
