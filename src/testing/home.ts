/**
 * A throwaway SILO_HOME's processes and its removal: shared by `silo/testing` and silo's
 * own test helpers, so every hermetic stack is torn down the same way.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { forgetHome } from '../isolation/cleanup.js';

/** pids of processes whose command line or environment mentions `home`. */
export function processesOf(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(home) || readFileSync(`/proc/${entry}/environ`, 'utf8').includes(home)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/**
 * Stop a stack (`down` is its own `silo down`), then SIGKILL whatever of it `down` missed
 * (a leak the caller's checks report), delete the folder and, under root, its tenants'
 * Unix users and CPU groups.
 */
export async function discardHome(home: string, down: () => Promise<unknown>): Promise<void> {
  await down();
  for (const pid of processesOf(home)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(home, { recursive: true, force: true });
  forgetHome(home);
}
