/**
 * A throwaway SILO_HOME's processes and its removal: shared by `silo/testing` and silo's
 * own test helpers, so every hermetic stack is torn down the same way.
 */
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
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
 * SILO_TEST_KEEP_LOGS=<folder>: before a throwaway home goes, its logs (silo's, the
 * workers', the waker's, the proxy's, PM2's own) are copied to <folder>/<time>-<home>,
 * so a run that failed once can be read afterwards.
 */
function keepLogs(home: string): void {
  const keep = process.env.SILO_TEST_KEEP_LOGS;
  if (!keep) return;
  const dest = join(keep, `${Date.now()}-${basename(home)}`);
  for (const part of ['logs', 'pm2/logs', 'pm2/pm2.log']) {
    if (existsSync(join(home, part))) cpSync(join(home, part), join(dest, part), { recursive: true });
  }
}

/**
 * Stop a stack (`down` is its own `silo down`), then SIGKILL whatever of it `down` missed
 * (a leak the caller's checks report), delete the folder and, under root, its tenants'
 * Unix users and CPU groups.
 */
export async function discardHome(home: string, down: () => Promise<unknown>): Promise<void> {
  await down();
  keepLogs(home);
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
