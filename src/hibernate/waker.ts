/**
 * The waker's logic: put idle workers to sleep, start them again on demand, and hold
 * the proxy's requests for a worker that is restarting until it is ready. It acts on
 * PM2 and reads the registry (hostnames, settings); it never reads a tenant's
 * password nor connects to a database, and it serves no tenant data: the proxy sends it
 * a request only to learn "awake now, send the request again" (or a 503).
 *
 * Every operation on one tenant runs in that tenant's queue, so a wake that arrives
 * while the tenant is being put to sleep waits for the sleep to finish and then starts
 * the worker; many requests arriving during one wake share that wake.
 *
 *   wake:  registry says ready -> not in a failure cool-down -> start its PM2 app if PM2
 *          has none running or restarting -> wait for /readyz on its socket -> awake.
 *          A worker being restarted (reload, deploy, crash, memory ceiling: PM2 stops
 *          it, then starts it) is waited for, one restart allowed.  A worker that exits while
 *          starting, or answers "not ready" past a short grace, fails the wake: its app
 *          is removed (no restart loop, no database connection) and requests get 503
 *          with Retry-After until the cool-down passes; the next request tries again.
 *  sleep: remove its PM2 app (PM2 sends SIGINT: in-flight requests finish), record it.
 *  tick:  every online worker idle for its hibernate-after sleeps. Idle: its activity
 *         file (touched by the worker each second while it serves) is that old.
 */
import { lstatSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { SiloConfig } from '../common/config.js';
import { parseDuration } from '../common/duration.js';
import { homePaths } from '../common/paths.js';
import { probeSocket } from '../common/http-probe.js';
import { runPaths } from '../common/run-dir.js';
import { ensureRunDir, ensureTenantRunDir } from '../isolation/run-dirs.js';
import { readRegistry, type Registry, type TenantEntry } from '../registry/registry.js';
import { NAMESPACE, workerApp, workerApps } from '../pm2/ecosystem.js';
import * as pm2 from '../pm2/pm2.js';
import { readState, writeState, type HibernationState, type TenantSleep } from './state.js';

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

type Log = (fields: Record<string, unknown>) => void;

const TENANT_APP = /^tenant-(.+)$/;

/** At most `n` of the functions given to run() at once, the others wait in arrival order. */
function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
      active++;
      try {
        return await fn();
      } finally {
        active--;
        waiting.shift()?.();
      }
    },
  };
}

export function hibernateAfterMs(cfg: SiloConfig, entry: Pick<TenantEntry, 'hibernateAfter'>): number {
  try {
    return parseDuration(entry.hibernateAfter ?? cfg.hibernateAfter);
  } catch {
    return 0; // an unreadable setting never puts a tenant to sleep
  }
}

export function createWaker(cfg: SiloConfig, log: Log, timings: WakerTimings = defaultTimings) {
  const registryFile = homePaths(cfg.home).registry;
  const state: HibernationState = readState(cfg.home);
  const run = runPaths(cfg.home);
  /** when each awake worker last served a request (its activity file), or was woken */
  const activity = new Map<string, number>();
  const queues = new Map<string, Promise<unknown>>();
  const wakes = new Map<string, Promise<WakeResult>>();
  /** when an operation last changed a tenant (a PM2 list taken before it is stale) */
  const changedAt = new Map<string, number>();
  let dirty = false;
  let lastPersist = 0;
  const starts = limiter(Math.max(2, availableParallelism()));

  const record = (name: string): TenantSleep => (state.tenants[name] ??= { asleep: false });

  function persist(now = false): void {
    if (!dirty || (!now && Date.now() - lastPersist < 2000)) return;
    writeState(cfg.home, state);
    dirty = false;
    lastPersist = Date.now();
  }

  /** Run `fn` after every earlier operation on this tenant. */
  function serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const next = (queues.get(name) ?? Promise.resolve()).catch(() => undefined).then(fn);
    queues.set(name, next);
    void next.catch(() => undefined).finally(() => {
      if (queues.get(name) === next) queues.delete(name);
    });
    return next;
  }

  // One PM2 listing shared by every wake in progress: a storm of 50 wakes each polling
  // PM2 would keep the daemon busy listing instead of starting workers.
  let listing: { at: number; procs: Promise<pm2.ProcessDescription[]> } | undefined;
  async function workerProcess(name: string, maxAgeMs = 0): Promise<pm2.ProcessDescription | undefined> {
    if (!listing || Date.now() - listing.at > maxAgeMs) {
      const procs = pm2.list(NAMESPACE);
      listing = { at: Date.now(), procs };
      procs.catch(() => (listing = undefined));
    }
    return (await listing.procs).find((p) => p.name === workerApp(name));
  }

  async function waitReady(name: string, restartsBefore: number): Promise<string | undefined> {
    const start = Date.now();
    let answeredAt: number | undefined;
    let lastCheck = 0;
    let last = 'no answer';
    for (;;) {
      const r = await probeSocket(run.workerSocket(name), '/readyz', undefined, 2000).catch(() => undefined);
      if (r?.status === 200) return undefined;
      const now = Date.now();
      if (r) {
        last = `readyz HTTP ${r.status}`;
        answeredAt ??= now;
        if (now - answeredAt > timings.readyGraceMs) return `not ready after ${now - answeredAt} ms (${last})`;
      }
      if (now - lastCheck > 200) {
        lastCheck = now;
        const p = await workerProcess(name, 200);
        const status = p?.pm2_env?.status;
        if (!p || status === 'errored' || (status === 'stopped' && now - start > 2000)) return `its worker is ${status ?? 'gone'}`;
        if ((p.pm2_env?.restart_time ?? 0) > restartsBefore) return 'its worker exited while starting';
      }
      if (now - start > timings.wakeTimeoutMs) return `not ready within ${timings.wakeTimeoutMs} ms (${last})`;
      await sleepMs(20);
    }
  }

  async function doWake(name: string): Promise<WakeResult> {
    const started = Date.now();
    let reg: Registry;
    try {
      reg = readRegistry(registryFile);
    } catch (err) {
      return { ok: false, status: 503, message: 'the registry cannot be read', retryAfterS: 5 };
    }
    const entry = reg.tenants[name];
    if (!entry || entry.state !== 'ready') return { ok: false, status: 404, message: 'no tenant serves this host' };
    const t = record(name);
    if (t.wakeFailedAt && started - t.wakeFailedAt < timings.coolDownMs) {
      return { ok: false, status: 503, message: 'the tenant could not be started; try again shortly', retryAfterS: Math.ceil((timings.coolDownMs - (started - t.wakeFailedAt)) / 1000) };
    }
    const before = await workerProcess(name);
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
        ensureRunDir(cfg);
        ensureTenantRunDir(cfg, name);
        // A hibernated tenant has no PM2 app at all (sleep removes it): one round trip less.
        await (before ? pm2.startFresh(app) : pm2.start(app));
        listing = undefined; // taken before the start: it would say the worker is gone
        return waitReady(name, 0);
      });
    }
    changedAt.set(name, Date.now());
    if (failure) {
      // Stop it: a worker that cannot serve must not hold connections nor restart in a loop.
      await pm2.remove(workerApp(name)).catch(() => undefined);
      Object.assign(t, { asleep: true, wakeFailedAt: Date.now(), wakeError: failure });
      dirty = true;
      persist(true);
      log({ msg: 'wake failed', tenant: name, reason: failure, ms: Date.now() - started });
      return { ok: false, status: 503, message: 'the tenant could not be started; try again shortly', retryAfterS: Math.ceil(timings.coolDownMs / 1000) };
    }
    const now = Date.now();
    activity.set(name, now);
    const wasAsleep = t.asleep;
    Object.assign(t, { asleep: false, lastRequestAt: now });
    delete t.wakeFailedAt;
    delete t.wakeError;
    dirty = true;
    persist(true);
    if (!online || wasAsleep) log({ msg: 'woke', tenant: name, started: !online, ms: now - started });
    return { ok: true, started: !online, ms: now - started };
  }

  /** Wake a tenant (or learn that it is awake). Concurrent calls share one wake. */
  function wake(name: string): Promise<WakeResult> {
    const running = wakes.get(name);
    if (running) return running;
    const p = serial(name, () => doWake(name)).catch((err: Error): WakeResult => {
      log({ msg: 'wake error', tenant: name, err: err.message });
      return { ok: false, status: 503, message: 'the tenant could not be started; try again shortly', retryAfterS: 1 };
    });
    wakes.set(name, p);
    void p.finally(() => wakes.delete(name));
    return p;
  }

  /**
   * When the worker last served a request, by its activity file (its own: a tenant can
   * only keep itself awake, or put itself to sleep; a time in the future counts as now).
   */
  function readActivity(name: string, now: number): number {
    let at = activity.get(name) ?? 0;
    try {
      const st = lstatSync(run.activity(name));
      if (st.isFile()) at = Math.max(at, Math.min(st.mtimeMs, now));
    } catch {
      // no file yet: no request served yet
    }
    activity.set(name, at);
    const t = record(name);
    if (at > (t.lastRequestAt ?? 0)) {
      t.lastRequestAt = Math.floor(at);
      dirty = true;
    }
    return at;
  }

  function idleMs(name: string, p: pm2.ProcessDescription, now: number): number {
    const last = Math.max(readActivity(name, now), p.pm2_env?.pm_uptime ?? 0, changedAt.get(name) ?? 0);
    return now - last;
  }

  /** Put a tenant to sleep. `ifIdleFor`: only if it is still idle that long (the automatic case). */
  function sleep(name: string, ifIdleFor?: number): Promise<boolean> {
    return serial(name, async () => {
      const p = await workerProcess(name);
      if (p && ifIdleFor !== undefined && idleMs(name, p, Date.now()) < ifIdleFor) return false;
      if (p) await pm2.remove(workerApp(name));
      const t = record(name);
      const was = t.asleep;
      Object.assign(t, { asleep: true, sleptAt: Date.now() });
      changedAt.set(name, Date.now());
      dirty = true;
      persist(true);
      if (p || !was) log({ msg: 'hibernated', tenant: name, reason: ifIdleFor === undefined ? 'by hand' : `idle ${ifIdleFor} ms` });
      return true;
    });
  }

  let ticking = false;
  /** Put idle tenants to sleep; keep the record in line with what runs. */
  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      const listedAt = Date.now();
      const reg = readRegistry(registryFile);
      const procs = await pm2.list(NAMESPACE);
      const now = Date.now();
      for (const p of procs) {
        const m = TENANT_APP.exec(p.name);
        const name = m?.[1];
        if (!name || p.pm2_env?.status !== 'online' || queues.has(name)) continue;
        const entry = reg.tenants[name];
        if (!entry) continue;
        const t = record(name);
        // Something else started it (silo up, reload, pm2 start ecosystem.config.js): it is awake.
        if ((t.asleep || t.wakeError) && (changedAt.get(name) ?? 0) < listedAt) {
          t.asleep = false;
          delete t.wakeFailedAt;
          delete t.wakeError;
          dirty = true;
        }
        const after = hibernateAfterMs(cfg, entry);
        if (after > 0 && idleMs(name, p, now) >= after) void sleep(name, after).catch((err: Error) => log({ msg: 'sleep failed', tenant: name, err: err.message }));
      }
      for (const name of Object.keys(state.tenants)) {
        if (!reg.tenants[name] && !queues.has(name)) {
          delete state.tenants[name];
          activity.delete(name);
          dirty = true;
        }
      }
      persist();
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
    return Math.min(5000, Math.max(250, Math.floor((shortest || 20_000) / 4)));
  }

  function flush(): void {
    dirty = true;
    persist(true);
  }

  return { wake, sleep, tick, tickInterval, flush, isAsleep: (name: string) => state.tenants[name]?.asleep === true, recentlySlept: (name: string) => queues.has(name) || Date.now() - (state.tenants[name]?.sleptAt ?? 0) < 10_000 };
}

export type Waker = ReturnType<typeof createWaker>;
