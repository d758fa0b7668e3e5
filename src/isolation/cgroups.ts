/**
 * CPU limits per tenant with Linux control groups, check then act. Each tenant's worker
 * gets its own group under `silo-<home id>`: an equal CPU weight (work-conserving: a
 * tenant alone may use every core, two busy tenants split them evenly) and, if set, a
 * hard quota in percent of one core. cgroup v2 (`cpu.weight`, `cpu.max`) and v1
 * (`cpu.shares`, `cpu.cfs_quota_us`) are both detected; without either, or not as root,
 * CPU limits are unavailable and `silo status` says why.
 *
 * A worker joins its group itself, as root, before PM2 switches it to the tenant's user:
 * the worker is started with `--import` of join-cgroup.js and CPU_CGROUP naming the
 * group's `cgroup.procs`, so every restart and reload lands in the group too.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { isRoot } from '../common/reach.js';

const ROOT = '/sys/fs/cgroup';

export type CgroupSupport = { version: 'v2' | 'v1'; base: string } | { version: 'unavailable'; reason: string };

export function detectCgroups(): CgroupSupport {
  if (!isRoot()) return { version: 'unavailable', reason: 'silo does not run as root' };
  try {
    if (readFileSync(join(ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu')) return { version: 'v2', base: ROOT };
  } catch {
    // not a v2 root
  }
  if (existsSync(join(ROOT, 'cpu', 'cpu.shares'))) return { version: 'v1', base: join(ROOT, 'cpu') };
  return { version: 'unavailable', reason: 'no cgroup cpu controller is mounted (v2 with cpu, or v1 cpu)' };
}

const homeGroup = (home: string) => `silo-${createHash('sha256').update(resolve(home)).digest('hex').slice(0, 8)}`;

export function tenantCgroup(support: CgroupSupport, home: string, tenant: string): string | undefined {
  return support.version === 'unavailable' ? undefined : join(support.base, homeGroup(home), tenant);
}

const PERIOD_US = 100_000;

/** The files and values that express `cpuPercent` (0: no quota) in this cgroup version. */
function settings(support: Exclude<CgroupSupport, { version: 'unavailable' }>, cpuPercent: number): Record<string, string> {
  const quota = cpuPercent > 0 ? Math.round((cpuPercent / 100) * PERIOD_US) : undefined;
  return support.version === 'v2'
    ? { 'cpu.weight': '100', 'cpu.max': `${quota ?? 'max'} ${PERIOD_US}` }
    : { 'cpu.shares': '1024', 'cpu.cfs_period_us': String(PERIOD_US), 'cpu.cfs_quota_us': String(quota ?? -1) };
}

function enableCpu(dir: string): void {
  const control = join(dir, 'cgroup.subtree_control');
  if (!readFileSync(control, 'utf8').split(/\s+/).includes('cpu')) writeFileSync(control, '+cpu');
}

/** Make (or align) the tenant's group; returns its cgroup.procs, or undefined when unavailable. */
export function ensureTenantCgroup(home: string, tenant: string, cpuPercent: number, support = detectCgroups()): string | undefined {
  if (support.version === 'unavailable') return undefined;
  const parent = join(support.base, homeGroup(home));
  const dir = join(parent, tenant);
  if (support.version === 'v2') enableCpu(support.base);
  mkdirSync(parent, { recursive: true });
  if (support.version === 'v2') enableCpu(parent);
  mkdirSync(dir, { recursive: true });
  for (const [file, value] of Object.entries(settings(support, cpuPercent))) {
    const path = join(dir, file);
    if (readFileSync(path, 'utf8').trim() !== value) writeFileSync(path, value);
  }
  return join(dir, 'cgroup.procs');
}

/** What the group enforces now, for `silo status`. */
export function readTenantCgroup(home: string, tenant: string, support = detectCgroups()): { cpuPercent: number; pids: number[] } | undefined {
  const dir = tenantCgroup(support, home, tenant);
  if (!dir || !existsSync(dir)) return undefined;
  const read = (f: string) => readFileSync(join(dir, f), 'utf8').trim();
  const quota = support.version === 'v2' ? read('cpu.max').split(' ')[0]! : read('cpu.cfs_quota_us');
  const period = support.version === 'v2' ? Number(read('cpu.max').split(' ')[1]) : Number(read('cpu.cfs_period_us'));
  const cpuPercent = quota === 'max' || Number(quota) < 0 ? 0 : Math.round((Number(quota) / period) * 100);
  return { cpuPercent, pids: read('cgroup.procs').split('\n').filter(Boolean).map(Number) };
}

/** Is the tenant's group missing or set to something else than `cpuPercent`? (false when unavailable) */
export function cpuGroupNeedsWork(home: string, tenant: string, cpuPercent: number, support = detectCgroups()): boolean {
  if (support.version === 'unavailable') return false;
  const now = readTenantCgroup(home, tenant, support);
  return now?.cpuPercent !== cpuPercent;
}

/** Remove the tenant's group (its processes must be gone); and the home's group when empty. */
export function removeTenantCgroup(home: string, tenant: string, support = detectCgroups()): void {
  const dir = tenantCgroup(support, home, tenant);
  if (!dir) return;
  for (const d of [dir, join(dir, '..')]) {
    try {
      rmdirSync(d);
    } catch {
      // missing, or still in use (other tenants, a process that has not exited yet)
    }
  }
}

/** Remove every (empty) group of a home: after `silo down`, when the home itself goes. */
export function removeHomeCgroups(home: string, support = detectCgroups()): void {
  if (support.version === 'unavailable') return;
  const parent = join(support.base, homeGroup(home));
  if (!existsSync(parent)) return;
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTenantCgroup(home, entry.name, support);
  }
  try {
    rmdirSync(parent);
  } catch {
    // still in use
  }
}
