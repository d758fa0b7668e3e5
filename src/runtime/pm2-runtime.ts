/**
 * The PM2 runtime (SILO_RUNTIME=pm2, the default): every tenant's worker is a PM2 app of
 * this host (src/pm2/), on a Unix socket the proxy reaches. This file only maps the
 * contract onto src/pm2/workers.ts; what PM2 does is said there.
 */
import { isOnline, running, removeWorker, restartWorker, waitWorker } from '../pm2/workers.js';
import { ensureRunDir, ensureTenantRunDir } from '../isolation/run-dirs.js';
import { workerApp, workerApps } from '../pm2/ecosystem.js';
import * as pm2 from '../pm2/pm2.js';
import type { ProcessDescription } from '../pm2/pm2.js';
import type { TenantRuntime, WorkerStatus, Workers } from './runtime.js';

const PREFIX = workerApp('');

function statusOf(p: ProcessDescription): WorkerStatus {
  return {
    state: p.pm2_env?.status ?? 'stopped',
    online: isOnline(p),
    pid: p.pid > 0 ? p.pid : undefined,
    memoryMB: p.monit ? Math.round(p.monit.memory / 1048576) : undefined,
    restarts: p.pm2_env?.restart_time,
    entry: p.pm2_env?.env?.APP_MODULE ?? '',
    // An older silo ran workers in cluster mode (on a port, with a channel to PM2).
    ...(p.pm2_env?.exec_mode === 'cluster_mode' ? { stale: 'it ran in cluster mode' } : {}),
  };
}

/** PM2's apps of this stack that are tenants' workers (a stand-in's name has a `.`). */
export async function pm2Workers(): Promise<Workers> {
  const out: Workers = new Map();
  for (const [app, p] of await running()) {
    const name = app.slice(PREFIX.length);
    if (app.startsWith(PREFIX) && name && !name.includes('.')) out.set(name, statusOf(p));
  }
  return out;
}

export const pm2Runtime: TenantRuntime = {
  kind: 'pm2',
  workers: pm2Workers,
  async start(cfg, reg, name, now) {
    const [app] = workerApps(cfg, reg, name);
    if (!app) return false;
    const w = (now ?? (await pm2Workers())).get(name);
    if (w?.online && !w.stale) {
      await waitWorker(cfg, name);
      return false;
    }
    // The folder its socket goes in (its user writes, the proxy enters).
    ensureRunDir(cfg);
    ensureTenantRunDir(cfg, name);
    await pm2.startFresh(app);
    await waitWorker(cfg, name);
    return true;
  },
  stop: (name) => removeWorker(name),
  async reload(cfg, reg, name) {
    const [app] = workerApps(cfg, reg, name);
    if (!app) return;
    await pm2.reloadApp(app);
  },
  async restart(cfg, reg, name) {
    const [app] = workerApps(cfg, reg, name);
    if (app) await restartWorker(cfg, app, name);
  },
  sleep: (name) => removeWorker(name),
  wake: (cfg, reg, name) => pm2Runtime.start(cfg, reg, name),
  waitReady: (cfg, name, timeoutMs) => waitWorker(cfg, name, timeoutMs),
};
