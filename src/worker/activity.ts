/**
 * Tells silo's waker when this worker last served a request, so an idle tenant can
 * hibernate: the worker touches its activity file (ACTIVITY_FILE, in its own run folder)
 * and the waker reads the file's time. The first request after a quiet second touches it
 * at once (the waker must not stop a worker that just took a request on stale news);
 * while requests are in flight or finishing, at most once a second; an idle worker does
 * nothing. Health probes do not count, or the waker's own readiness checks would keep a
 * tenant awake. The file is the tenant's own: a worker can only speak for itself (and
 * the waker never believes a time in the future). There is no channel to the supervisor
 * (PM2) at all: nothing a tenant's code sends can change what PM2 believes.
 * Without ACTIVITY_FILE (tests) it is inert.
 */
import { closeSync, futimesSync, openSync } from 'node:fs';
import fp from 'fastify-plugin';
import { ACTIVITY_EVERY_MS } from '../contract/worker.js';

export const REPORT_EVERY_MS = ACTIVITY_EVERY_MS;

const HEALTH = new Set(['/healthz', '/readyz']);

export const activityPlugin = fp(
  async (fastify) => {
    const file = fastify.config.activityFile;
    if (!file) return;
    let fd: number | undefined;
    try {
      fd = openSync(file, 'a', 0o640);
    } catch (err) {
      fastify.log.warn({ err: { message: (err as Error).message } }, 'activity file cannot be opened: the waker sees no activity');
      return;
    }
    let inFlight = 0;
    let lastSentAt = 0;
    let dirty = false;
    const report = () => {
      if (!dirty && inFlight === 0) return;
      dirty = false;
      lastSentAt = Date.now();
      const now = new Date(lastSentAt);
      try {
        futimesSync(fd!, now, now);
      } catch {
        // closed while reporting: nothing to tell any more
      }
    };
    fastify.addHook('onRequest', async (request, reply) => {
      if (HEALTH.has(request.routeOptions.url ?? '')) return;
      inFlight++;
      dirty = true;
      if (Date.now() - lastSentAt >= REPORT_EVERY_MS) report();
      reply.raw.once('close', () => {
        inFlight--;
        dirty = true;
      });
    });
    const timer = setInterval(report, REPORT_EVERY_MS);
    timer.unref();
    fastify.addHook('onClose', async () => {
      clearInterval(timer);
      report();
      closeSync(fd!);
    });
  },
  { name: 'activity', fastify: '5.x', dependencies: ['config'] },
);
