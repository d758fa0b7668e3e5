/**
 * A throwaway SILO_HOME's processes and its removal: shared by `silo/testing` and silo's
 * own test helpers, so every hermetic stack is torn down the same way.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { forgetHome } from '../isolation/cleanup.js';
import { freePort } from '../common/ports.js';

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

/** The environment of a hermetic stack in `home`: its own PM2 home and free ports. */
export async function hermeticEnv(home: string): Promise<Record<string, string>> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? home,
    SILO_HOME: home,
    PM2_HOME: join(home, 'pm2'),
    SILO_HTTP_PORT: String(await freePort()),
    SILO_PG_PORT: String(await freePort()),
    // Below Linux's ephemeral range (32768+), where an outgoing connection could take the port.
    SILO_WORKER_PORT_BASE: String(20000 + Math.floor(Math.random() * 12000)),
  };
}
