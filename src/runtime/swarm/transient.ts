/**
 * Swarm's managers are a Raft group: while they elect a leader (a manager died, or one
 * came back and called an election) the Engine API answers "the swarm does not have a
 * leader", "context deadline exceeded" (a change not committed within the engine's 20 s)
 * or "update out of sequence" (another change came first), for seconds. Such a call is
 * made again, for up to a minute; every other error is final at once. Only calls that
 * look before they change may be made again: silo's runtime calls do (a put finds the
 * service, then creates or updates it from the version it read), so a change that was
 * committed after all is not made twice.
 */
const TRANSIENT = /context deadline exceeded|does not have a leader|code = Unavailable|update out of sequence|lost leadership|leadership changed/i;
const FOR_MS = 60_000;

export function isTransient(err: unknown): boolean {
  const e = err as { statusCode?: number; message?: string };
  return (e?.statusCode === undefined || e.statusCode >= 500) && TRANSIENT.test(String(e?.message ?? ''));
}

export async function retryTransient<T>(fn: () => Promise<T>, forMs = FOR_MS): Promise<T> {
  // A minute from the first transient error (a long call, a wait for a task, may fail late).
  let end: number | undefined;
  for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await fn();
    } catch (err) {
      end ??= Date.now() + forMs;
      if (!isTransient(err) || Date.now() + wait > end) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** `target` with each of its methods made again on a transient error (one level: nested objects are wrapped by the caller). */
export function retryingMethods<T extends object>(target: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(target)) {
    out[key] = typeof value === 'function' ? (...args: unknown[]) => retryTransient(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) : value;
  }
  return out as T;
}
