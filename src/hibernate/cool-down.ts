/**
 * After a failed wake, the tenant's requests get 503 with Retry-After, without another
 * try, until the cool-down passes; the next request after it tries again. The failure is
 * recorded in the sleep book (status shows `wakeError`), and forgotten on a good wake.
 */
import type { SleepBook } from './sleep-book.js';

export const NOT_STARTED = 'the tenant could not be started; try again shortly';

export function createCoolDown(book: SleepBook, coolDownMs: number, onFirstFailure: (name: string, reason: string) => void = () => undefined) {
  return {
    /** Seconds to wait before the next try, or undefined when a wake may be tried now. */
    retryAfterS(name: string, now: number): number | undefined {
      const failedAt = book.record(name).wakeFailedAt;
      if (!failedAt || now - failedAt >= coolDownMs) return undefined;
      return Math.ceil((coolDownMs - (now - failedAt)) / 1000);
    },
    /** A wake failed: the tenant is asleep (its app removed) until a request after the cool-down. */
    failed(name: string, reason: string): number {
      // Once per run of failures (requests keep trying every cool-down; a good wake ends the run).
      if (!book.record(name).wakeError) onFirstFailure(name, reason);
      book.update(name, (t) => Object.assign(t, { asleep: true, wakeFailedAt: Date.now(), wakeError: reason }));
      book.persist(true);
      return Math.ceil(coolDownMs / 1000);
    },
    clear(name: string): void {
      book.update(name, (t) => {
        delete t.wakeFailedAt;
        delete t.wakeError;
      });
    },
  };
}

export type CoolDown = ReturnType<typeof createCoolDown>;
