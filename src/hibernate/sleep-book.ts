/**
 * The waker's record of each tenant's sleep (state.ts), held in memory and written back
 * when it changed: at once after a wake or a sleep, at most every 2 s for what the idle
 * tick learns (when each tenant last served a request).
 */
import { readState, writeState, type HibernationState, type TenantSleep } from './state.js';

export function createSleepBook(home: string) {
  const state: HibernationState = readState(home);
  let dirty = false;
  let lastPersist = 0;

  function persist(now = false): void {
    if (!dirty || (!now && Date.now() - lastPersist < 2000)) return;
    writeState(home, state);
    dirty = false;
    lastPersist = Date.now();
  }

  return {
    /** The tenant's record, made on first use. */
    record: (name: string): TenantSleep => (state.tenants[name] ??= { asleep: false }),
    /** Change a tenant's record; written with the next persist(). */
    update(name: string, change: (t: TenantSleep) => void): void {
      change((state.tenants[name] ??= { asleep: false }));
      dirty = true;
    },
    names: (): string[] => Object.keys(state.tenants),
    forget(name: string): void {
      delete state.tenants[name];
      dirty = true;
    },
    persist,
    /** Write now, whether or not anything changed. */
    flush(): void {
      dirty = true;
      persist(true);
    },
    isAsleep: (name: string): boolean => state.tenants[name]?.asleep === true,
    sleptAt: (name: string): number => state.tenants[name]?.sleptAt ?? 0,
  };
}

export type SleepBook = ReturnType<typeof createSleepBook>;
