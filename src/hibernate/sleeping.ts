/**
 * Putting one tenant to sleep: remove its PM2 app (PM2 sends SIGINT: in-flight requests
 * finish), or scale its Swarm service to 0, and record it. By hand (`silo tenant sleep`) always; from the idle tick only if
 * the tenant is still idle when its turn in the queue comes.
 */
import { workerApp } from '../pm2/ecosystem.js';
import * as pm2 from '../pm2/pm2.js';
import type { TenantRuntime } from '../runtime/runtime.js';
import type { Activity } from './activity.js';
import type { SleepBook } from './sleep-book.js';
import type { TenantQueue } from './tenant-queue.js';
import type { Log } from './waking.js';
import type { WorkerView } from './worker-view.js';

interface Parts {
  queue: TenantQueue;
  book: SleepBook;
  activity: Activity;
  workers: WorkerView;
}

export function createSleeping(log: Log, { queue, book, activity, workers }: Parts, runtime?: TenantRuntime) {
  /** Put a tenant to sleep. `ifIdleFor`: only if it is still idle that long (the automatic case). */
  return function sleep(name: string, ifIdleFor?: number): Promise<boolean> {
    return queue.serial(name, async () => {
      const p = await workers.find(name);
      if (p && ifIdleFor !== undefined && activity.idleMs(name, p.pm2_env?.pm_uptime ?? 0, Date.now()) < ifIdleFor) return false;
      if (p) await pm2.remove(workerApp(name));
      // Workers on a Swarm: a scale to zero replicas (its service stays, with its secret),
      // from the idle tick only if its worker still reports no request for that long.
      if (runtime?.kind === 'swarm') {
        if (ifIdleFor !== undefined) {
          const a = (await runtime.activity?.(name))?.get(name);
          if (!a || activity.idleMs(name, Math.max(a.startedAt, a.servedAt), Date.now()) < ifIdleFor) return false;
        }
        await runtime.sleep(name);
      }
      const was = book.record(name).asleep;
      book.update(name, (t) => Object.assign(t, { asleep: true, sleptAt: Date.now() }));
      activity.changed(name);
      book.persist(true);
      if (p || !was) log({ msg: 'hibernated', tenant: name, reason: ifIdleFor === undefined ? 'by hand' : `idle ${ifIdleFor} ms` });
      return true;
    });
  };
}
