/**
 * One queue per tenant: every operation on a tenant (a wake, a sleep) runs after the
 * earlier ones, so a wake that arrives while the tenant is being put to sleep waits for
 * the sleep to finish and then starts the worker. Concurrent wakes of one tenant share
 * the first one's promise.
 */
export function createTenantQueue() {
  const queues = new Map<string, Promise<unknown>>();
  const shared = new Map<string, Promise<unknown>>();

  /** Run `fn` after every earlier operation on this tenant. */
  function serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const next = (queues.get(name) ?? Promise.resolve()).catch(() => undefined).then(fn);
    queues.set(name, next);
    void next.catch(() => undefined).finally(() => {
      if (queues.get(name) === next) queues.delete(name);
    });
    return next;
  }

  /** Like serial(), but a call while one is pending returns the pending one's promise. */
  function once<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const running = shared.get(name);
    if (running) return running as Promise<T>;
    const p = serial(name, fn);
    shared.set(name, p);
    void p.catch(() => undefined).finally(() => shared.delete(name));
    return p;
  }

  /** Something is queued or running for this tenant. */
  const busy = (name: string): boolean => queues.has(name);

  return { serial, once, busy };
}

export type TenantQueue = ReturnType<typeof createTenantQueue>;
