/**
 * Its worker under PM2 (only while the stack is up): online, started as this silo defines
 * it. A hibernated tenant has no worker on purpose (its next request starts it); one whose
 * wake failed is started here, once the parts before it fixed what made it fail.
 */
import { isOnline, removeWorker, running, ensureWorker, waitWorker } from '../../pm2/workers.js';
import { workerApp, workerApps } from '../../pm2/ecosystem.js';
import * as pm2 from '../../pm2/pm2.js';
import { sleepsOnPurpose } from '../../hibernate/state.js';
import type { TenantPart } from './part.js';

export const worker: TenantPart = {
  name: 'worker',
  where: 'stack',
  async check(t) {
    if (!t.live || sleepsOnPurpose(t.cfg.home, t.name)) return undefined;
    const p = (t.procs ?? (await running())).get(workerApp(t.name));
    if (!isOnline(p)) return 'it was not running';
    if (t.restart) return 'its settings changed';
    // An older silo ran workers in cluster mode (on a port, with a channel to PM2).
    if (p?.pm2_env?.exec_mode === 'cluster_mode') return 'it ran in cluster mode';
    return undefined;
  },
  async ensure(t) {
    if (!t.live) return;
    const procs = await running();
    const p = procs.get(workerApp(t.name));
    if (isOnline(p) && (t.restart || p?.pm2_env?.exec_mode === 'cluster_mode')) {
      const [app] = workerApps(t.cfg, t.reg, t.name);
      if (!app) return;
      // New settings reach a running worker through a reload with its new definition; a
      // cluster-mode one is started again as it is defined now.
      if (t.restart) await pm2.reloadApp(app);
      else await pm2.startFresh(app);
      await waitWorker(t.cfg, t.name);
      return t.restart ? 'restarted' : 'started again';
    }
    return (await ensureWorker(t.cfg, t.reg, t.name, procs)) ? 'started' : undefined;
  },
  remove: async (t) => void (await removeWorker(t.name)),
};
