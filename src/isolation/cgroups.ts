/**
 * Per-tenant limits with Linux control groups, check then act. Each tenant's worker gets
 * its own group under `silo-<home id>`:
 * - CPU: an equal weight (work-conserving: a tenant alone may use every core, two busy
 *   tenants split them evenly) and, if set, a hard quota in percent of one core;
 * - processes: at most `pids` tasks (threads count), so a fork bomb stops at its own limit;
 * - memory: a hard ceiling in bytes; above it the kernel's OOM killer kills inside the group
 *   (the worker; PM2 restarts it), whatever PM2's 30-second max_memory_restart sampling saw.
 * cgroup v2 (`cpu.weight`, `cpu.max`, `pids.max`, `memory.max`) and v1 (`cpu.shares`,
 * `cpu.cfs_quota_us` in the cpu hierarchy, `pids.max` and `memory.limit_in_bytes` in their
 * own) are both detected; without either, or not as root, limits are unavailable and
 * `silo status` says why. A v1 controller that is not mounted is left out.
 *
 * A worker joins its groups as root, before it becomes the tenant's user: its launcher
 * (worker-launch.ts) writes its pid to each group's `cgroup.procs` named in CGROUP_PROCS,
 * then execs setpriv and node, so every restart and reload lands in the groups too, and
 * so do the processes it starts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { isRoot } from '../common/reach.js';

const ROOT = '/sys/fs/cgroup';

/**
 * `base`: where CPU groups go (v2: the one hierarchy); v1 `pids` and `memory`: those
 * controllers' hierarchies when mounted.
 */
export type CgroupSupport =
  | { version: 'v2'; base: string }
  | { version: 'v1'; base: string; pids?: string; memory?: string }
  | { version: 'unavailable'; reason: string };
type Available = Exclude<CgroupSupport, { version: 'unavailable' }>;

/** What a tenant's groups enforce: CPU quota (percent of one core, 0 none), tasks, memory bytes (0: none). */
export interface GroupLimits {
  cpu: number;
  pids: number;
  memory: number;
}

export function detectCgroups(): CgroupSupport {
  if (!isRoot()) return { version: 'unavailable', reason: 'silo does not run as root' };
  try {
    if (readFileSync(join(ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu')) return { version: 'v2', base: ROOT };
  } catch {
    // not a v2 root
  }
  if (existsSync(join(ROOT, 'cpu', 'cpu.shares'))) {
    const v1 = (c: string, probe: string) => (existsSync(join(ROOT, c, probe)) ? { [c]: join(ROOT, c) } : {});
    return { version: 'v1', base: join(ROOT, 'cpu'), ...v1('pids', 'cgroup.procs'), ...v1('memory', 'memory.limit_in_bytes') };
  }
  return { version: 'unavailable', reason: 'no cgroup cpu controller is mounted (v2 with cpu, or v1 cpu)' };
}

/** The name of a state folder's group (`silo-<id>`) under each controller. */
export const homeGroup = (home: string) => `silo-${createHash('sha256').update(resolve(home)).digest('hex').slice(0, 8)}`;

export function tenantCgroup(support: CgroupSupport, home: string, tenant: string): string | undefined {
  return support.version === 'unavailable' ? undefined : join(support.base, homeGroup(home), tenant);
}

/** Every group directory of a tenant, by controller (v2: one directory for all). */
export function tenantGroups(support: CgroupSupport, home: string, tenant: string): { cpu: string; pids?: string; memory?: string } | undefined {
  if (support.version === 'unavailable') return undefined;
  const cpu = join(support.base, homeGroup(home), tenant);
  if (support.version === 'v2') return { cpu, pids: cpu, memory: cpu };
  const under = (base?: string) => (base ? join(base, homeGroup(home), tenant) : undefined);
  return { cpu, pids: under(support.pids), memory: under(support.memory) };
}

/** The distinct `cgroup.procs` files a worker writes its pid into to join its groups. */
export function tenantProcsFiles(support: CgroupSupport, home: string, tenant: string): string[] {
  const g = tenantGroups(support, home, tenant);
  return g ? [...new Set([g.cpu, g.pids, g.memory].filter((d): d is string => !!d))].map((d) => join(d, 'cgroup.procs')) : [];
}

const PERIOD_US = 100_000;

/** The CPU files and values that express `cpuPercent` (0: no quota) in this cgroup version. */
function cpuSettings(support: Available, cpuPercent: number): Record<string, string> {
  const quota = cpuPercent > 0 ? Math.round((cpuPercent / 100) * PERIOD_US) : undefined;
  return support.version === 'v2'
    ? { 'cpu.weight': '100', 'cpu.max': `${quota ?? 'max'} ${PERIOD_US}` }
    : { 'cpu.shares': '1024', 'cpu.cfs_period_us': String(PERIOD_US), 'cpu.cfs_quota_us': String(quota ?? -1) };
}

/** v1 has no "max" for memory: the largest page-aligned value means none. */
const V1_UNLIMITED = '9223372036854771712';

/** Each group directory with the files and values it must hold. */
function wanted(support: Available, g: NonNullable<ReturnType<typeof tenantGroups>>, limits: GroupLimits): [string, Record<string, string>][] {
  const out: [string, Record<string, string>][] = [[g.cpu, cpuSettings(support, limits.cpu)]];
  const add = (dir: string | undefined, values: Record<string, string>) => {
    if (!dir) return;
    const same = out.find(([d]) => d === dir);
    if (same) Object.assign(same[1], values);
    else out.push([dir, values]);
  };
  add(g.pids, { 'pids.max': limits.pids > 0 ? String(limits.pids) : 'max' });
  if (support.version === 'v2') add(g.memory, { 'memory.max': limits.memory > 0 ? String(limits.memory) : 'max', 'memory.swap.max': '0' });
  else add(g.memory, { 'memory.limit_in_bytes': limits.memory > 0 ? String(limits.memory) : V1_UNLIMITED });
  return out;
}

function enableControllers(dir: string): void {
  const control = join(dir, 'cgroup.subtree_control');
  const on = readFileSync(control, 'utf8').split(/\s+/);
  const offered = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/);
  for (const c of ['cpu', 'pids', 'memory']) if (!on.includes(c) && offered.includes(c)) writeFileSync(control, `+${c}`);
}

/** Write `value` unless the file holds it (v1 reads memory limits back page-rounded). */
function align(dir: string, file: string, value: string): void {
  const path = join(dir, file);
  if (!existsSync(path)) return; // e.g. memory.swap.max without swap accounting
  if (readFileSync(path, 'utf8').trim() === value) return;
  if (file === 'memory.limit_in_bytes') {
    // With swap accounting, memsw.limit must stay >= limit: move it along, in the right order.
    const memsw = join(dir, 'memory.memsw.limit_in_bytes');
    if (existsSync(memsw)) {
      try {
        writeFileSync(path, value);
        writeFileSync(memsw, value);
      } catch {
        writeFileSync(memsw, value);
        writeFileSync(path, value);
      }
      return;
    }
  }
  writeFileSync(path, value);
}

/** Make (or align) the tenant's groups; returns their cgroup.procs files ([] when unavailable). */
export function ensureTenantCgroup(home: string, tenant: string, limits: GroupLimits, support = detectCgroups()): string[] {
  const g = tenantGroups(support, home, tenant);
  if (support.version === 'unavailable' || !g) return [];
  if (support.version === 'v2') enableControllers(support.base);
  for (const [dir, values] of wanted(support, g, limits)) {
    mkdirSync(join(dir, '..'), { recursive: true });
    if (support.version === 'v2') enableControllers(join(dir, '..'));
    mkdirSync(dir, { recursive: true });
    for (const [file, value] of Object.entries(values)) align(dir, file, value);
  }
  return tenantProcsFiles(support, home, tenant);
}

const readNumber = (path: string): number | undefined => {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === 'max' ? 0 : Number(text);
  } catch {
    return undefined;
  }
};

export interface GroupUse {
  cpuPercent: number;
  /** processes in its CPU group */
  pids: number[];
  /** tasks (threads count) now, and the most it may have (0: none) */
  tasks?: { current: number; max: number };
  /** memory bytes now, the ceiling (0: none), and how often the ceiling was hit */
  memory?: { current: number; max: number; failcnt?: number; oomKills?: number };
}

/** What the groups enforce now and what the tenant uses, for `silo status`. */
export function readTenantCgroup(home: string, tenant: string, support = detectCgroups()): GroupUse | undefined {
  const g = tenantGroups(support, home, tenant);
  if (!g || !existsSync(g.cpu)) return undefined;
  const read = (f: string) => readFileSync(join(g.cpu, f), 'utf8').trim();
  const quota = support.version === 'v2' ? read('cpu.max').split(' ')[0]! : read('cpu.cfs_quota_us');
  const period = support.version === 'v2' ? Number(read('cpu.max').split(' ')[1]) : Number(read('cpu.cfs_period_us'));
  const cpuPercent = quota === 'max' || Number(quota) < 0 ? 0 : Math.round((Number(quota) / period) * 100);
  const use: GroupUse = { cpuPercent, pids: read('cgroup.procs').split('\n').filter(Boolean).map(Number) };
  if (g.pids && existsSync(join(g.pids, 'pids.max'))) use.tasks = { current: readNumber(join(g.pids, 'pids.current')) ?? 0, max: readNumber(join(g.pids, 'pids.max')) ?? 0 };
  if (g.memory && support.version === 'v2' && existsSync(join(g.memory, 'memory.max'))) {
    const events = readFileSync(join(g.memory, 'memory.events'), 'utf8');
    const count = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(events)?.[1] ?? 0);
    use.memory = { current: readNumber(join(g.memory, 'memory.current')) ?? 0, max: readNumber(join(g.memory, 'memory.max')) ?? 0, failcnt: count('max'), oomKills: count('oom_kill') };
  } else if (g.memory && existsSync(join(g.memory, 'memory.limit_in_bytes'))) {
    const max = readFileSync(join(g.memory, 'memory.limit_in_bytes'), 'utf8').trim();
    const oom = /^oom_kill (\d+)$/m.exec(readFileSync(join(g.memory, 'memory.oom_control'), 'utf8'))?.[1];
    use.memory = {
      current: readNumber(join(g.memory, 'memory.usage_in_bytes')) ?? 0,
      max: max === V1_UNLIMITED ? 0 : Number(max),
      failcnt: readNumber(join(g.memory, 'memory.failcnt')),
      ...(oom !== undefined ? { oomKills: Number(oom) } : {}),
    };
  }
  return use;
}

/** Are the tenant's groups missing or set otherwise than `limits`? (false when unavailable) */
export function cpuGroupNeedsWork(home: string, tenant: string, limits: GroupLimits, support = detectCgroups()): boolean {
  const g = tenantGroups(support, home, tenant);
  if (support.version === 'unavailable' || !g) return false;
  return wanted(support, g, limits).some(([dir, values]) =>
    Object.entries(values).some(([file, value]) => {
      const path = join(dir, file);
      if (!existsSync(dir)) return true;
      if (!existsSync(path)) return false;
      const now = readFileSync(path, 'utf8').trim();
      // v1 rounds memory limits to pages.
      return file === 'memory.limit_in_bytes' ? Math.abs(Number(now) - Number(value)) >= 4096 : now !== value;
    }),
  );
}

/**
 * Kill every process left in the tenant's groups (what its worker started and PM2 did not
 * stop: a detached child, a fork bomb). Forks are refused while it runs (pids.max 0 on the
 * way), so it ends. Returns how many it killed.
 */
export function killTenantProcesses(home: string, tenant: string, support = detectCgroups()): number {
  const g = tenantGroups(support, home, tenant);
  if (!g) return 0;
  const procsFiles = tenantProcsFiles(support, home, tenant).filter((f) => existsSync(f));
  const pidsMax = g.pids ? join(g.pids, 'pids.max') : undefined;
  const before = pidsMax && existsSync(pidsMax) ? readFileSync(pidsMax, 'utf8').trim() : undefined;
  if (pidsMax && before !== undefined) writeFileSync(pidsMax, '0');
  let killed = 0;
  try {
    for (let round = 0; round < 200; round++) {
      const pids = new Set(procsFiles.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map(Number)));
      if (pids.size === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
          killed++;
        } catch {
          // gone already
        }
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  } finally {
    if (pidsMax && before !== undefined) writeFileSync(pidsMax, before);
  }
  return killed;
}

/** Remove the tenant's groups (after killing what is left in them); and the home's groups when empty. */
export function removeTenantCgroup(home: string, tenant: string, support = detectCgroups()): void {
  const g = tenantGroups(support, home, tenant);
  if (!g) return;
  killTenantProcesses(home, tenant, support);
  for (const dir of new Set([g.cpu, g.pids, g.memory].filter((d): d is string => !!d))) {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        // missing; EBUSY: a killed process has not been reaped yet
        if ((err as NodeJS.ErrnoException).code !== 'EBUSY') break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
    try {
      // The home's group goes with its last tenant. Once: EBUSY here means other tenants'
      // groups are still in it (retrying cost a second per controller at every remove).
      rmdirSync(join(dir, '..'));
    } catch {
      // other tenants' groups, or gone already
    }
  }
}

/** Remove every (empty) group of a home: after `silo down`, when the home itself goes. */
export function removeHomeCgroups(home: string, support = detectCgroups()): void {
  if (support.version === 'unavailable') return;
  const bases = support.version === 'v1' ? [support.base, support.pids, support.memory] : [support.base];
  for (const base of bases) {
    const parent = base ? join(base, homeGroup(home)) : undefined;
    if (!parent || !existsSync(parent)) continue;
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      if (entry.isDirectory()) removeTenantCgroup(home, entry.name, support);
    }
    try {
      rmdirSync(parent);
    } catch {
      // still in use
    }
  }
}
