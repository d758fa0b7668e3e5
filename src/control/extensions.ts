/**
 * Where other parts hook into the control process without it knowing them: routes on the
 * same listener (GET /metrics, the console pages under control/console/), and what happens
 * when a job finishes (the events layer sends its webhook, e.g. "tenant created" in the
 * sign-up flow). Register them here; control-main.ts applies them.
 */
import type { FastifyInstance } from 'fastify';
import type { Job } from './jobs.js';

export const controlExtensions: {
  routes: (app: FastifyInstance) => Promise<void> | void;
  onJobFinished: (job: Job) => void;
} = {
  routes: () => undefined,
  onJobFinished: () => undefined,
};
