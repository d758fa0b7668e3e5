/**
 * The waker's view of the tenant workers PM2 runs. One PM2 listing is shared by every
 * wake in progress: a storm of 50 wakes each polling PM2 would keep the daemon busy
 * listing instead of starting workers.
 */
import { NAMESPACE, workerApp } from '../pm2/ecosystem.js';
import * as pm2 from '../pm2/pm2.js';

export function createWorkerView() {
  let listing: { at: number; procs: Promise<pm2.ProcessDescription[]> } | undefined;
  return {
    /**
     * The tenant's PM2 process, from a listing at most `maxAgeMs` old and asked for no
     * earlier than `notBefore` (when silo last changed that tenant's app).
     */
    async find(name: string, maxAgeMs = 0, notBefore = 0): Promise<pm2.ProcessDescription | undefined> {
      if (!listing || Date.now() - listing.at > maxAgeMs || listing.at < notBefore) {
        const procs = pm2.list(NAMESPACE);
        listing = { at: Date.now(), procs };
        procs.catch(() => (listing = undefined));
      }
      return (await listing.procs).find((p) => p.name === workerApp(name));
    },
    /** A listing taken before a start would say the worker is gone: take a new one next time. */
    forget(): void {
      listing = undefined;
    },
  };
}

export type WorkerView = ReturnType<typeof createWorkerView>;
