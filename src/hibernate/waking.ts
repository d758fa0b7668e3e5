/**
 * Waking one tenant: registry says ready -> not in a failure cool-down -> start its PM2
 * app if PM2 has none running or restarting -> wait for /readyz on its socket -> awake.
 * A worker being restarted (reload, deploy, crash, memory ceiling: PM2 stops it, then
 * starts it) is waited for, one restart allowed. A worker that exits while starting, or
 * answers "not ready" past a short grace, fails the wake: its app is removed (no restart
 * loop, no database connection) and requests get 503 with Retry-After until the
 * cool-down passes (cool-down.ts).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { probeSocket } from '../common/http-probe.js';
import { isAlive } from '../common/processes.js';
import { runPaths } from '../common/run-dir.js';
import { ensureRunDir, ensureTenantRunDir } from '../isolation/run-dirs.js';
import { readRegistry, type Registry } from '../registry/registry.js';
import { workerApp, workerApps } from '../pm2/ecosystem.js';
import * as pm2 from '../pm2/pm2.js';
import { runtimeFor } from '../runtime/select.js';
import type { Activity } from './activity.js';
import { NOT_STARTED, type CoolDown } from './cool-down.js';
import { limiter } from './limiter.js';
import type { SleepBook } from './sleep-book.js';
import { countWake } from './state.js';
import type { WorkerView } from './worker-view.js';

export interface WakerTimings {
  /** longest a wake may take before it fails (a storm of starts on a busy host is slow) */
  wakeTimeoutMs: number;
  /** once the worker answers, how long "not ready" (database down, schema behind) is tolerated */
  readyGraceMs: number;
  /** after a failed wake, requests get 503 without another try for this long */
  coolDownMs: number;
}

export const defaultTimings: WakerTimings = { wakeTimeoutMs: 30_000, readyGraceMs: 3000, coolDownMs: 5000 };

export type WakeResult =
  | { ok: true; started: boolean; ms: number }
  | { ok: false; status: 404 | 503; message: string; retryAfterS?: number };

export type Log = (fields: Record<string, unknown>) => void;

interface Parts {
  book: SleepBook;
  activity: Activity;
  workers: WorkerView;
  coolDown: CoolDown;
}

export function createWaking(cfg: SiloConfig, log: Log, timings: WakerTimings, { book, activity, workers, coolDown }: Parts) {
  const registryFile = homePaths(cfg.home).registry;
  const run = runPaths(cfg.home);
  const starts = limiter(Math.max(2, availableParallelism()));

  /**
   * Wait for the worker's /readyz; the reason it will not be ready, or undefined once it
   * is. `pid`: the process this wake started, watched directly (a PM2 listing costs the
   * daemon a copy of every app and a read of every process: in a storm of 100 wakes,
   * seconds of CPU); without it, PM2's view of a worker it is restarting.
   */
  async function waitReady(name: string, restartsBefore: number, pid?: number): Promise<string | undefined> {
    const start = Date.now();
    let answeredAt: number | undefined;
    let lastCheck = 0;
    let last = 'no answer';
    const socket = run.workerSocket(name);
    for (;;) {
      // Until its socket exists, a look is one stat, not an HTTP request that fails to
      // connect every 5 ms of every start (a storm of 100 wakes cost the waker 2.5-2.9 s
      // of CPU, a sixth of the storm's: npm run bench:wake with WAKE_STORM).
      const r = answeredAt !== undefined || existsSync(socket) ? await probeSocket(socket, '/readyz', undefined, 2000).catch(() => undefined) : undefined;
      if (r?.status === 200) return undefined;
      const now = Date.now();
      if (r) {
        last = `readyz HTTP ${r.status}`;
        answeredAt ??= now;
        if (now - answeredAt > timings.readyGraceMs) return `not ready after ${now - answeredAt} ms (${last})`;
      }
      if (pid !== undefined) {
        if (!isAlive(pid)) return 'its worker exited while starting';
      } else if (now - lastCheck > 200) {
        lastCheck = now;
        const p = await workers.find(name, 200);
        const status = p?.pm2_env?.status;
        if (!p || status === 'errored' || (status === 'stopped' && now - start > 2000)) return `its worker is ${status ?? 'gone'}`;
        if ((p.pm2_env?.restart_time ?? 0) > restartsBefore) return 'its worker exited while starting';
      }
      if (now - start > timings.wakeTimeoutMs) return `not ready within ${timings.wakeTimeoutMs} ms (${last})`;
      // Until its socket answers, a look costs a failed connect: look often, the request
      // waits for the first answer. A worker that answers "not ready" runs a query per look.
      await sleepMs(answeredAt === undefined ? 5 : 20);
    }
  }

  async function wakeElsewhere(name: string, reg: Registry, started: number): Promise<WakeResult> {
    let woke: boolean;
    try {
      woke = await runtimeFor(cfg).wake(cfg, reg, name);
    } catch (err) {
      const retryAfterS = coolDown.failed(name, (err as Error).message);
      log({ msg: 'wake failed', tenant: name, reason: (err as Error).message, ms: Date.now() - started });
      return { ok: false, status: 503, message: NOT_STARTED, retryAfterS };
    }
    const now = Date.now();
    activity.woke(name, now);
    book.update(name, (t) => Object.assign(t, { asleep: false, lastRequestAt: now }));
    coolDown.clear(name);
    book.persist(true);
    if (woke) log({ msg: 'woke', tenant: name, started: true, ms: now - started, at: started });
    return { ok: true, started: woke, ms: now - started };
  }

  /** Wake `name` (run in its queue): start its worker unless it runs, and wait until it is ready. */
  return async function wakeNow(name: string): Promise<WakeResult> {
    const started = Date.now();
    let reg: Registry;
    try {
      reg = readRegistry(registryFile);
    } catch {
      return { ok: false, status: 503, message: 'the registry cannot be read', retryAfterS: 5 };
    }
    const entry = reg.tenants[name];
    if (!entry || entry.state !== 'ready') return { ok: false, status: 404, message: 'no tenant serves this host' };
    const retryAfterS = coolDown.retryAfterS(name, started);
    if (retryAfterS !== undefined) return { ok: false, status: 503, message: NOT_STARTED, retryAfterS };
    // Workers on a Swarm: a wake is a scale back to one replica, ready once its task runs
    // (healthy); the proxy then finds it on whichever node it landed (proxy/nginx/pool.ts).
    if (cfg.runtime === 'swarm') return wakeElsewhere(name, reg, started);
    // When each step ended, in ms since the wake began (a wake's breakdown in the bench).
    const steps: { listed?: number; slot?: number; pm2?: number } = {};
    // A listing asked for after this tenant's last sleep or wake, shared by the wakes of a
    // storm (each listing costs the daemon a copy of every app).
    const before = await workers.find(name, 100, activity.changedAt(name) + 1);
    steps.listed = Date.now() - started;
    const status = before?.pm2_env?.status;
    const online = status === 'online';
    let failure: string | undefined;
    if (online || status === 'launching' || status === 'waiting restart' || status === 'stopping') {
      // Running, or being restarted by PM2 (a reload or deploy stops and starts it; a
      // crash or the memory ceiling restarts it with PM2's own back-off): wait for the
      // process PM2 starts (one restart is allowed) instead of replacing the app, which
      // would race PM2 and hide a crash from the worker's restart count.
      failure = await waitReady(name, (before?.pm2_env?.restart_time ?? 0) + 1);
    } else {
      const [app] = workerApps(cfg, reg, name);
      if (!app) return { ok: false, status: 404, message: 'no tenant serves this host' };
      // A start is mostly CPU (Node boot, module loading): a few at a time, in arrival
      // order, so a storm of wakes serves its first tenants in a second instead of all
      // of them together at the end.
      failure = await starts.run(async () => {
        steps.slot = Date.now() - started;
        ensureRunDir(cfg);
        ensureTenantRunDir(cfg, name);
        // A hibernated tenant has no PM2 app at all (sleep removes it, and this listing was
        // taken after its last sleep or wake): handed to the daemon without PM2's listing.
        const [pid] = await (before ? pm2.startFresh(app) : pm2.startNew(app));
        steps.pm2 = Date.now() - started;
        workers.forget(); // taken before the start: it would say the worker is gone
        return waitReady(name, 0, pid);
      });
    }
    activity.changed(name);
    if (failure) {
      // Stop it: a worker that cannot serve must not hold connections nor restart in a loop.
      await pm2.remove(workerApp(name)).catch(() => undefined);
      book.update(name, (t) => countWake(t, undefined));
      const retryAfterS = coolDown.failed(name, failure);
      log({ msg: 'wake failed', tenant: name, reason: failure, ms: Date.now() - started });
      return { ok: false, status: 503, message: NOT_STARTED, retryAfterS };
    }
    const now = Date.now();
    activity.woke(name, now);
    const wasAsleep = book.record(name).asleep;
    book.update(name, (t) => {
      Object.assign(t, { asleep: false, lastRequestAt: now });
      if (!online) countWake(t, now - started);
    });
    coolDown.clear(name);
    book.persist(true);
    if (!online || wasAsleep) log({ msg: 'woke', tenant: name, started: !online, ms: now - started, at: started, steps });
    return { ok: true, started: !online, ms: now - started };
  };
}
