/**
 * GET /metrics in Prometheus text format, as a Fastify plugin: the control API mounts it
 * on its listener behind a read-scope token (src/control/); tests may mount it on a
 * listener of their own. Each scrape gathers a fresh snapshot (snapshot.ts: cheap
 * sources read now, costly ones from their caches); two scrapes at once share one.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { SiloConfig } from '../common/config.js';
import { createExposition } from './exposition.js';
import { createCollector, type Snapshot } from './snapshot.js';

export interface MetricsOptions {
  cfg: SiloConfig;
}

/** Prometheus text for the stack `cfg` describes, from one collector (keep it: it holds the caches). */
export function createMetrics(cfg: SiloConfig) {
  const collect = createCollector(cfg);
  const exposition = createExposition();
  let running: Promise<Snapshot> | undefined;
  return {
    contentType: exposition.contentType,
    async scrape(): Promise<string> {
      running ??= collect().finally(() => {
        running = undefined;
      });
      return exposition.render(await running);
    },
  };
}

export const metricsRoutes: FastifyPluginAsync<MetricsOptions> = async (fastify, opts) => {
  const metrics = createMetrics(opts.cfg);
  fastify.get('/metrics', async (_request, reply) => {
    const text = await metrics.scrape();
    return reply.type(metrics.contentType).send(text);
  });
};
