/**
 * What the control app serves besides /v1 on the same listener: GET /metrics (read scope,
 * src/metrics/) and the operator console under /console (its own token login; its actions
 * start the same jobs as the API, through submitJob).
 */
import type { FastifyInstance } from 'fastify';
import type { SiloConfig } from '../common/config.js';
import { running } from '../pm2/workers.js';
import { metricsRoutes } from '../metrics/routes.js';
import { readAudit } from '../events/audit.js';
import { consolePlugin } from './console/plugin.js';
import { fleetReadings } from './console/readings.js';
import { createSampler } from './console/samples.js';
import type { Caller, ConsoleAction, ConsoleBackend, ConsoleJob } from './console/types.js';
import { verifyToken } from './tokens.js';
import type { Job, JobStore } from './jobs.js';
import { submitJob } from './api.js';

const consoleJob = (j: Job): ConsoleJob => ({
  id: j.id,
  kind: j.operation.replace(/^tenant\./, ''),
  ...(j.tenant ? { tenant: j.tenant } : {}),
  state: j.state,
  steps: j.steps,
  ...(j.error ? { error: j.error } : {}),
  createdAt: j.createdAt,
  ...(j.finishedAt ? { finishedAt: j.finishedAt } : {}),
  ...(j.token ? { by: j.token } : {}),
});

/** A console form's action as the operation and parameters the API would queue. */
function operationOf(a: ConsoleAction): [string, Record<string, unknown>] {
  switch (a.action) {
    case 'suspend':
      return ['tenant.suspend', { name: a.tenant, ...(a.message ? { message: a.message } : {}) }];
    case 'restore':
      return ['tenant.restore', { name: a.tenant, from: a.backup }];
    case 'deploy':
      // a release already in the store (the console lists them), to this one tenant
      return ['tenant.deploy-release', { name: a.tenant, release: a.release }];
    default:
      return [`tenant.${a.action}`, { name: a.tenant }];
  }
}

export async function mountExtras(app: FastifyInstance, cfg: SiloConfig, jobs: JobStore): Promise<void> {
  // GET /metrics behind a read token of the whole fleet (it names every tenant).
  await app.register(async (scope) => {
    scope.addHook('onRoute', (r) => {
      r.config = { ...((r.config as object) ?? {}), scope: 'read' } as typeof r.config;
    });
    await scope.register(metricsRoutes, { cfg });
  });

  const backend: ConsoleBackend = {
    verifyToken: (token: string): Caller | undefined => {
      const t = verifyToken(cfg.home, token);
      return t && { id: t.id, scope: t.scope, ...(t.tenant ? { tenant: t.tenant } : {}) };
    },
    async startJob(action, caller) {
      const [operation, params] = operationOf(action);
      return consoleJob(submitJob(cfg, jobs, operation, params, { ...caller, created: '' }));
    },
    jobs: () => jobs.list().slice(0, 200).map(consoleJob),
    job: (id) => {
      const j = jobs.get(id);
      return j && consoleJob(j);
    },
    audit: (tenant, limit) =>
      readAudit(cfg.home, { tenant })
        .slice(-limit)
        .reverse()
        .map((e) => ({ at: e.at, who: e.who, what: e.what, target: e.target, result: e.result, ...(e.error ? { error: e.error } : {}) })),
  };
  const sampler = createSampler({ everyMs: 60_000, keep: 40, read: fleetReadings(cfg, running) });
  sampler.start();
  app.addHook('onClose', () => sampler.stop());
  await app.register(async (scope) => {
    // Pages, not API: left out of the OpenAPI document.
    scope.addHook('onRoute', (r) => {
      r.schema = { ...(r.schema ?? {}), hide: true } as typeof r.schema;
    });
    await scope.register(consolePlugin, { prefix: '/console', cfg, backend, sources: { processes: running, sampler }, secure: false });
  });
}

