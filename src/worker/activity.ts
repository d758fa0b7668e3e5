/**
 * Tells PM2 (and through its bus, silo's waker) when this worker last served a request,
 * so an idle tenant can hibernate. The first request after a quiet second is reported at
 * once (the waker must not stop a worker that just took a request on stale news); later
 * changes at most once a second; an idle worker sends nothing. Health probes do not count as activity, or the waker's own
 * readiness checks would keep a tenant awake. PM2 stamps each message with the sending
 * app's name, so a worker can only speak for itself. Outside PM2 (tests) it is inert.
 */
import fp from 'fastify-plugin';
import { ACTIVITY_MESSAGE, type ActivityReport } from '../contract/worker.js';

export const REPORT_EVERY_MS = 1000;

const HEALTH = new Set(['/healthz', '/readyz']);

export const activityPlugin = fp(
  async (fastify) => {
    const send = process.send?.bind(process);
    if (!send) return;
    let inFlight = 0;
    let lastRequestAt = 0;
    let lastSentAt = 0;
    let dirty = false;
    const report = () => {
      if (!dirty || !process.connected) return;
      dirty = false;
      lastSentAt = Date.now();
      const data: ActivityReport = { lastRequestAt, inFlight };
      send({ type: ACTIVITY_MESSAGE, data });
    };
    fastify.addHook('onRequest', async (request, reply) => {
      if (HEALTH.has(request.routeOptions.url ?? '')) return;
      inFlight++;
      lastRequestAt = Date.now();
      dirty = true;
      if (lastRequestAt - lastSentAt >= REPORT_EVERY_MS) report();
      reply.raw.once('close', () => {
        inFlight--;
        lastRequestAt = Date.now();
        dirty = true;
      });
    });
    const timer = setInterval(report, REPORT_EVERY_MS);
    timer.unref();
    fastify.addHook('onClose', async () => {
      clearInterval(timer);
      report();
    });
  },
  { name: 'activity', fastify: '5.x' },
);
