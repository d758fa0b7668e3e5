/**
 * Counts the requests this worker answers, per status class and in a latency histogram
 * (src/contract/request-counts.ts), and writes them to REQUEST_COUNTS_FILE in its own run
 * folder: at most once a second while it serves, once more at close; an idle worker
 * writes nothing. The control plane's /metrics reads the files (src/metrics/); no
 * channel to anyone else, like the activity file. Health probes are not counted (the
 * waker's and status's own probes are not the tenant's traffic).
 * Without REQUEST_COUNTS_FILE (SILO_METRICS=off, tests) nothing is registered at all: the
 * cost of counting is this hook and a small write a second (bench/metrics.mjs measures it).
 */
import { renameSync, writeFileSync } from 'node:fs';
import fp from 'fastify-plugin';
import { LATENCY_BUCKETS_S, REQUEST_COUNTS_EVERY_MS, STATUS_CLASSES, type RequestCounts } from '../contract/request-counts.js';

const HEALTH = new Set(['/healthz', '/readyz']);
const BOUNDS_MS = LATENCY_BUCKETS_S.map((s) => s * 1000);

export const requestCountsPlugin = fp(
  async (fastify) => {
    const file = fastify.config.requestCountsFile;
    if (!file) return;
    const counts: RequestCounts = {
      v: 1,
      since: Date.now(),
      classes: Object.fromEntries(STATUS_CLASSES.map((c) => [c, 0])) as RequestCounts['classes'],
      buckets: new Array<number>(BOUNDS_MS.length + 1).fill(0),
      sum: 0,
    };
    const byClass = [undefined, undefined, ...STATUS_CLASSES] as const;
    let dirty = true; // the first write says the counting started (and resets what a previous process left)
    let broken = false;
    const tmp = `${file}.${process.pid}`;
    const write = () => {
      if (!dirty || broken) return;
      dirty = false;
      try {
        writeFileSync(tmp, JSON.stringify(counts), { mode: 0o640 });
        renameSync(tmp, file);
      } catch (err) {
        broken = true;
        fastify.log.warn({ err: { message: (err as Error).message } }, 'request counts cannot be written: /metrics has none for this tenant');
      }
    };
    fastify.addHook('onResponse', (request, reply, done) => {
      if (!HEALTH.has(request.routeOptions.url ?? '')) {
        const cls = byClass[Math.floor(reply.statusCode / 100)];
        if (cls) counts.classes[cls]++;
        const ms = reply.elapsedTime;
        let i = 0;
        while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]!) i++;
        counts.buckets[i]!++;
        counts.sum += ms / 1000;
        dirty = true;
      }
      done();
    });
    write();
    const timer = setInterval(write, REQUEST_COUNTS_EVERY_MS);
    timer.unref();
    fastify.addHook('onClose', async () => {
      clearInterval(timer);
      write();
    });
  },
  { name: 'request-counts', fastify: '5.x', dependencies: ['config'] },
);
