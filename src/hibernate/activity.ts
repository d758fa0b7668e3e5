/**
 * When each awake worker last did something: the last request it served (its activity
 * file, touched by the worker each second while it serves), when it was woken, and when
 * an operation last changed it (a PM2 listing taken before that is stale). A tenant's
 * activity file is its own: a tenant can only keep itself awake, or put itself to sleep;
 * a time in the future counts as now.
 */
import { lstatSync } from 'node:fs';
import type { SleepBook } from './sleep-book.js';

export function createActivity(activityFile: (name: string) => string, book: SleepBook) {
  /** when each awake worker last served a request (its activity file), or was woken */
  const served = new Map<string, number>();
  /** when an operation last changed a tenant */
  const changed = new Map<string, number>();

  /** When the worker last served a request; recorded in the book when it moved on. */
  function lastServed(name: string, now: number): number {
    let at = served.get(name) ?? 0;
    try {
      const st = lstatSync(activityFile(name));
      if (st.isFile()) at = Math.max(at, Math.min(st.mtimeMs, now));
    } catch {
      // no file yet: no request served yet
    }
    served.set(name, at);
    if (at > (book.record(name).lastRequestAt ?? 0)) book.update(name, (t) => (t.lastRequestAt = Math.floor(at)));
    return at;
  }

  return {
    lastServed,
    /** How long since the worker (started at `startedAt`, PM2's pm_uptime) last did anything. */
    idleMs(name: string, startedAt: number, now: number): number {
      return now - Math.max(lastServed(name, now), startedAt, changed.get(name) ?? 0);
    },
    /** The worker was woken (counts as served) at `at`. */
    woke(name: string, at: number): void {
      served.set(name, at);
    },
    /** An operation (wake, sleep) changed the tenant now. */
    changed(name: string): void {
      changed.set(name, Date.now());
    },
    changedAt: (name: string): number => changed.get(name) ?? 0,
    forget(name: string): void {
      served.delete(name);
    },
  };
}

export type Activity = ReturnType<typeof createActivity>;
