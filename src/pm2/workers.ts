/**
 * Tenant workers under PM2, one at a time: what PM2 runs now, stopping and forgetting a
 * worker, restarting one without a gap, and waiting until it is ready. The PM2 runtime
 * (src/runtime/pm2-runtime.ts), the stack's own apps and the waker (src/hibernate/) call
 * these and src/pm2/pm2.ts; nothing else talks to PM2.
 */
import { statSync } from 'node:fs';
import type { SiloConfig } from '../common/config.js';
import { NAMESPACE, workerApp, type PM2App } from './ecosystem.js';
import * as pm2 from './pm2.js';
import { probeSocket, waitFor } from '../common/http-probe.js';
import { runPaths } from '../common/run-dir.js';

export type Running = Map<string, pm2.ProcessDescription>;

/** PM2's apps of this stack by name; empty when no daemon runs (none is started to ask). */
export async function running(): Promise<Running> {
  if (!pm2.daemonPid()) return new Map();
  return new Map((await pm2.list(NAMESPACE)).map((p) => [p.name, p]));
}

export const isOnline = (p?: pm2.ProcessDescription) => p?.pm2_env?.status === 'online';

/** The tenant's worker answers /readyz on its socket. */
export async function waitWorker(cfg: SiloConfig, name: string, timeoutMs = 20_000): Promise<void> {
  const socket = runPaths(cfg.home).workerSocket(name);
  await waitFor(`the worker of ${name}`, timeoutMs, async () => (await probeSocket(socket, '/readyz')).status === 200);
}

/** Stop and forget a tenant's worker if PM2 has it. */
export async function removeWorker(name: string): Promise<boolean> {
  if (!(await running()).has(workerApp(name))) return false;
  await pm2.remove(workerApp(name));
  return true;
}

/**
 * The PM2 name of a tenant's stand-in during a restart: a `.` is in no tenant's name, so
 * nothing (the waker, status) takes it for a tenant's worker.
 */
export const standInApp = (tenant: string) => `${workerApp(tenant)}.stand-in`;

const socketInode = (socket: string): number | undefined => {
  try {
    return statSync(socket).ino;
  } catch {
    return undefined;
  }
};

/**
 * A process other than the one on `inode` holds the tenant's socket, and it is ready.
 * `app`: give up as soon as PM2 no longer runs it (an app that cannot start exits).
 */
async function waitTakenOver(socket: string, name: string, inode: number | undefined, timeoutMs: number, app?: string): Promise<number> {
  let now: number | undefined;
  await waitFor(`a new worker of ${name}`, timeoutMs, async () => {
    now = socketInode(socket);
    if (now === undefined || now === inode) {
      if (app && !['online', 'launching'].includes((await running()).get(app)?.pm2_env?.status ?? '')) throw new Error(`${app} is not running`);
      return 'not listening yet';
    }
    return (await probeSocket(socket, '/readyz')).status === 200 || 'not ready';
  });
  return now!;
}

/**
 * Restart a running tenant's worker from `app` (its definition now: changed settings reach
 * it) without a moment where its socket has no ready process behind it. In fork mode PM2
 * stops a process before it starts the next, and the proxy would hold every request for
 * the whole start (seconds on a busy host). So a stand-in, the same definition under
 * another PM2 name, starts first and takes the socket over (a worker renames its socket
 * over the path: src/worker/listen.ts); PM2 then restarts the app itself while the
 * stand-in serves (the old process unlinks nothing that is no longer its own, and closes
 * its keep-alive connections as it drains); once the restarted process has the socket
 * back, the stand-in closes the same way. It costs a second start, and for a moment
 * two processes of the tenant (within its ceilings: its role's connection limit allows
 * two pools, src/isolation/limits.ts). A stand-in that cannot start changes nothing
 * and the plain restart follows (its failure is the caller's to report).
 */
export async function restartWorker(cfg: SiloConfig, app: PM2App, name: string, timeoutMs = 20_000): Promise<void> {
  const socket = runPaths(cfg.home).workerSocket(name);
  const standIn = { ...app, name: standInApp(name) };
  try {
    let serving = socketInode(socket);
    try {
      await pm2.startFresh(standIn);
      serving = await waitTakenOver(socket, name, serving, timeoutMs, standIn.name);
    } catch {
      await pm2.remove(standIn.name).catch(() => undefined);
    }
    await pm2.reloadApp(app);
    await waitTakenOver(socket, name, serving, timeoutMs);
  } finally {
    await pm2.remove(standIn.name).catch(() => undefined);
  }
}
