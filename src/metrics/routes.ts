/**
 * GET /metrics in Prometheus text format, as a Fastify plugin: the control API mounts it
 * on its listener behind a read-scope token (src/control/); tests may mount it on a
 * listener of their own. Each scrape gathers a fresh snapshot (snapshot.ts: cheap
 * sources read now, costly ones from their caches); two scrapes at once share one.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { SiloConfig } from '../common/config.js';
import { createExposition } from './exposition.js';
import { createCollector, type Snapshot } from './snapshot.js';

export interface MetricsOptions {
  cfg: SiloConfig;
  /** the route's `config` (the control API's scope: `{ scope: 'read' }`) */
  routeConfig?: Record<string, unknown>;
  /** a tenant the request may see alone (a tenant-scoped token): only its series, none of the servers' or the fleet's */
  onlyTenant?: (request: FastifyRequest) => string | undefined;
}

/** Prometheus text for the stack `cfg` describes, from one collector (keep it: it holds the caches). */
export function createMetrics(cfg: SiloConfig) {
  const collect = createCollector(cfg);
  const exposition = createExposition();
  let running: Promise<Snapshot> | undefined;
  return {
    contentType: exposition.contentType,
    /** The fleet, or (`only`) one tenant's series alone. */
    async scrape(only?: string): Promise<string> {
      running ??= collect().finally(() => {
        running = undefined;
      });
      const snap = await running;
      return exposition.render(only === undefined ? snap : { at: snap.at, tenants: snap.tenants.filter((t) => t.name === only), servers: [] });
    },
  };
}

export const metricsRoutes: FastifyPluginAsync<MetricsOptions> = async (fastify, opts) => {
  const metrics = createMetrics(opts.cfg);
  fastify.get('/metrics', { config: opts.routeConfig ?? {} }, async (request, reply) => {
    const text = await metrics.scrape(opts.onlyTenant?.(request));
    return reply.type(metrics.contentType).send(text);
  });
};
