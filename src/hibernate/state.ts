/**
 * What hibernation knows, kept in $SILO_HOME/hibernate/: which tenants sleep and when each
 * last served a request. (The waker listens on a Unix socket, src/common/run-dir.ts; an
 * older silo recorded a loopback port in waker.json, now ignored.) The waker is the only writer of
 * `state.json` (one process, so no lock); `silo up`, `status` and `tenant list` read it.
 * Nothing here is secret.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';

export interface TenantSleep {
  /** the waker stopped its worker on purpose; its next request starts it */
  asleep: boolean;
  /** epoch ms of the last request the worker served (health probes not counted) */
  lastRequestAt?: number;
  sleptAt?: number;
  /** the last wake that failed (503 answered until the cool-down passes) */
  wakeFailedAt?: number;
  wakeError?: string;
  /** wakes that started its worker, and their time (for /metrics; kept across the waker's restarts) */
  wakes?: WakeCounts;
}

/** Upper bounds of the wake-time buckets, seconds (+Inf implied). */
export const WAKE_BUCKETS_S = [0.5, 1, 2.5, 10] as const;

export interface WakeCounts {
  ok: number;
  failed: number;
  /** successful wakes per bucket of WAKE_BUCKETS_S, not cumulative, the last one above every bound */
  buckets: number[];
  /** seconds, summed over the successful wakes */
  sum: number;
}

/** Count one wake of a tenant (ms: how long it took; undefined: it failed). */
export function countWake(t: TenantSleep, ms: number | undefined): void {
  const w = (t.wakes ??= { ok: 0, failed: 0, buckets: new Array<number>(WAKE_BUCKETS_S.length + 1).fill(0), sum: 0 });
  if (ms === undefined) {
    w.failed++;
    return;
  }
  let i = 0;
  while (i < WAKE_BUCKETS_S.length && ms / 1000 > WAKE_BUCKETS_S[i]!) i++;
  w.buckets[i] = (w.buckets[i] ?? 0) + 1;
  w.ok++;
  w.sum += ms / 1000;
}

export interface HibernationState {
  tenants: Record<string, TenantSleep>;
}

export function hibernatePaths(home: string) {
  const dir = join(home, 'hibernate');
  return { dir, state: join(dir, 'state.json') };
}

function readJson<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return fallback;
  }
}

export function readState(home: string): HibernationState {
  const s = readJson<HibernationState>(hibernatePaths(home).state, { tenants: {} });
  return typeof s.tenants === 'object' && s.tenants ? s : { tenants: {} };
}

export function writeState(home: string, state: HibernationState): void {
  writeFileAtomic(hibernatePaths(home).state, JSON.stringify(state) + '\n', 0o644);
}

export function isAsleep(home: string, tenant: string): boolean {
  return readState(home).tenants[tenant]?.asleep === true;
}

/** Hibernated as intended: asleep, and not because its last wake failed (that needs fixing). */
export function sleepsOnPurpose(home: string, tenant: string): boolean {
  const t = readState(home).tenants[tenant];
  return t?.asleep === true && !t.wakeError;
}
