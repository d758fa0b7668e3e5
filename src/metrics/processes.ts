/**
 * Each awake tenant's worker as PM2 and the kernel see it: pid, resident memory and
 * restarts from one PM2 listing (one call for the whole fleet; no daemon is started to
 * ask), CPU seconds from /proc/<pid>/stat (user + system time of the worker process since
 * it started: a counter that starts again with each new process).
 */
import { readFileSync } from 'node:fs';
import { workerApp } from '../pm2/ecosystem.js';
import { running } from '../pm2/workers.js';

export interface WorkerSample {
  online: boolean;
  memoryBytes?: number;
  cpuSeconds?: number;
  restarts?: number;
}

/** Clock ticks per second of /proc times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** User + system CPU seconds of a process, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

export async function readWorkers(tenants: string[]): Promise<Map<string, WorkerSample>> {
  const procs = await running().catch(() => new Map());
  const out = new Map<string, WorkerSample>();
  for (const name of tenants) {
    const p = procs.get(workerApp(name));
    if (!p) continue;
    const online = p.pm2_env?.status === 'online' && p.pid > 0;
    out.set(name, {
      online,
      restarts: p.pm2_env?.restart_time ?? 0,
      ...(online && p.monit ? { memoryBytes: p.monit.memory } : {}),
      ...(online ? { cpuSeconds: cpuSeconds(p.pid) } : {}),
    });
  }
  return out;
}
