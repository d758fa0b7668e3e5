/**
 * The waker's logic: put idle workers to sleep, start them again on demand, and hold
 * the proxy's requests for a worker that is restarting until it is ready. It acts on
 * PM2 and reads the registry (hostnames, settings); it never reads a tenant's
 * password nor connects to a database, and it serves no tenant data: the proxy sends it
 * a request only to learn "awake now, send the request again" (or a 503).
 *
 * Its parts, one job each:
 *   tenant-queue.ts  every operation on one tenant runs after the earlier ones; many
 *                    requests arriving during one wake share that wake
 *   sleep-book.ts    which tenants sleep, when each last served (state.json)
 *   activity.ts      when each awake worker last did something (its activity file)
 *   worker-view.ts   one PM2 listing shared by every wake in progress
 *   cool-down.ts     after a failed wake, 503 with Retry-After for a while
 *   waking.ts        start a worker and wait until it is ready
 *   sleeping.ts      remove a worker's PM2 app and record it
 *   idle-tick.ts     every idle worker sleeps; the book follows what runs
 */
import type { SiloConfig } from '../common/config.js';
import { runPaths } from '../common/run-dir.js';
import { createActivity } from './activity.js';
import { createCoolDown, NOT_STARTED } from './cool-down.js';
import { createIdleTick } from './idle-tick.js';
import { createSleepBook } from './sleep-book.js';
import { createSleeping } from './sleeping.js';
import { runtimeFor } from '../runtime/select.js';
import { createTenantQueue } from './tenant-queue.js';
import { createWaking, defaultTimings, type Log, type WakeResult, type WakerTimings } from './waking.js';
import { createWorkerView } from './worker-view.js';
import { emit } from '../events/emit.js';

export { defaultTimings, type WakeResult, type WakerTimings } from './waking.js';
export { hibernateAfterMs } from './idle-tick.js';

export function createWaker(cfg: SiloConfig, log: Log, timings: WakerTimings = defaultTimings) {
  const queue = createTenantQueue();
  const book = createSleepBook(cfg.home);
  const activity = createActivity(runPaths(cfg.home).activity, book);
  const workers = createWorkerView();
  const coolDown = createCoolDown(book, timings.coolDownMs, (tenant, error) => emit(cfg, 'wake.failed', { tenant, error }));
  const wakeNow = createWaking(cfg, log, timings, { book, activity, workers, coolDown });
  const runtime = runtimeFor(cfg);
  const sleep = createSleeping(log, { queue, book, activity, workers }, runtime);
  const { tick, tickInterval } = createIdleTick(cfg, log, { runtime: runtime.activity ? runtime : undefined, queue, book, activity, coolDown, sleep });

  /** Wake a tenant (or learn that it is awake). Concurrent calls share one wake. */
  function wake(name: string): Promise<WakeResult> {
    return queue.once(name, () =>
      wakeNow(name).catch((err: Error): WakeResult => {
        log({ msg: 'wake error', tenant: name, err: err.message });
        return { ok: false, status: 503, message: NOT_STARTED, retryAfterS: 1 };
      }),
    );
  }

  return {
    wake,
    sleep,
    tick,
    tickInterval,
    flush: book.flush,
    isAsleep: book.isAsleep,
    recentlySlept: (name: string) => queue.busy(name) || Date.now() - book.sleptAt(name) < 10_000,
  };
}

export type Waker = ReturnType<typeof createWaker>;
