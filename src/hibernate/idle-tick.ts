/**
 * The idle tick: every online worker idle for its hibernate-after is put to sleep (idle:
 * its activity file is that old, activity.ts; on a Swarm, the time its health check last
 * reported, runtime.activity), and the sleep book is kept in line with
 * what runs: a worker something else started (silo up, reload, pm2 start
 * ecosystem.config.js) is awake; a tenant no longer registered is forgotten.
 */
import type { SiloConfig } from '../common/config.js';
import { parseDuration } from '../common/duration.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, type TenantEntry } from '../registry/registry.js';
import { NAMESPACE } from '../pm2/ecosystem.js';
import * as pm2 from '../pm2/pm2.js';
import type { Activity } from './activity.js';
import type { CoolDown } from './cool-down.js';
import type { SleepBook } from './sleep-book.js';
import type { TenantQueue } from './tenant-queue.js';
import type { Log } from './waking.js';
import type { TenantRuntime } from '../runtime/runtime.js';

const TENANT_APP = /^tenant-(.+)$/;

export function hibernateAfterMs(cfg: SiloConfig, entry: Pick<TenantEntry, 'hibernateAfter'>): number {
  try {
    return parseDuration(entry.hibernateAfter ?? cfg.hibernateAfter);
  } catch {
    return 0; // an unreadable setting never puts a tenant to sleep
  }
}

interface Parts {
  /** the runtime, when it reports its workers' activity itself (Swarm: on other hosts) */
  runtime?: Pick<TenantRuntime, 'activity'>;
  queue: TenantQueue;
  book: SleepBook;
  activity: Activity;
  coolDown: CoolDown;
  sleep: (name: string, ifIdleFor?: number) => Promise<boolean>;
}

export function createIdleTick(cfg: SiloConfig, log: Log, { runtime, queue, book, activity, coolDown, sleep }: Parts) {
  const registryFile = homePaths(cfg.home).registry;
  let ticking = false;

  /** Put idle tenants to sleep; keep the record in line with what runs. */
  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      const listedAt = Date.now();
      const reg = readRegistry(registryFile);
      // Every online worker with when it started, and (a runtime that reports it) when it last served.
      const online: { name: string; startedAt: number }[] = [];
      if (runtime?.activity) {
        for (const [name, a] of await runtime.activity()) online.push({ name, startedAt: Math.max(a.startedAt, a.servedAt) });
      } else {
        for (const p of await pm2.list(NAMESPACE)) {
          const name = TENANT_APP.exec(p.name)?.[1];
          if (name && p.pm2_env?.status === 'online') online.push({ name, startedAt: p.pm2_env?.pm_uptime ?? 0 });
        }
      }
      const now = Date.now();
      for (const { name, startedAt } of online) {
        if (queue.busy(name)) continue;
        const entry = reg.tenants[name];
        if (!entry) continue;
        const t = book.record(name);
        // Something else started it (silo up, reload, pm2 start ecosystem.config.js): it is awake.
        if ((t.asleep || t.wakeError) && activity.changedAt(name) < listedAt) {
          book.update(name, (t) => (t.asleep = false));
          coolDown.clear(name);
        }
        const after = hibernateAfterMs(cfg, entry);
        if (after > 0 && activity.idleMs(name, startedAt, now) >= after) {
          void sleep(name, after).catch((err: Error) => log({ msg: 'sleep failed', tenant: name, err: err.message }));
        }
      }
      for (const name of book.names()) {
        if (!reg.tenants[name] && !queue.busy(name)) {
          book.forget(name);
          activity.forget(name);
        }
      }
      book.persist();
    } finally {
      ticking = false;
    }
  }

  /** How often to look: a quarter of the shortest hibernate-after, between 250 ms and 5 s. */
  function tickInterval(): number {
    let shortest = hibernateAfterMs(cfg, {});
    try {
      for (const t of Object.values(readRegistry(registryFile).tenants)) {
        const ms = hibernateAfterMs(cfg, t);
        if (ms > 0 && (shortest === 0 || ms < shortest)) shortest = ms;
      }
    } catch {
      // keep the default
    }
    // A runtime that reports activity learns it from its workers' health checks (every 2 s) and asks every node: no faster.
    return Math.min(5000, Math.max(runtime?.activity ? 2000 : 250, Math.floor((shortest || 20_000) / 4)));
  }

  return { tick, tickInterval };
}
