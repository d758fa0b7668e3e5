/**
 * Liveness and readiness, for PM2, the proxy and `silo up`. Both skip the host guard, so
 * they reveal nothing but a status: no tenant name, no version, no reason (the reason
 * goes to the log).
 */
import fp from 'fastify-plugin';
import { within } from '../common/within.js';
import { appliedVersion } from '../migrate/run.js';
import type { LogLevel } from './config.js';
import { errorBody } from './errors.js';

export interface HealthOptions {
  /** The latest migration of the app this worker runs. */
  expectedVersion: number;
}

const statusSchema = {
  type: 'object',
  properties: { status: { type: 'string' } },
} as const;

const errorSchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** How long an early readiness answer (checkReadinessEarly) stands for the first /readyz. */
const EARLY_FRESH_MS = 1000;

declare module 'fastify' {
  interface FastifyInstance {
    /** Start a readiness check now, for the first /readyz to answer with. */
    checkReadinessEarly(): void;
  }
}

export const healthPlugin = fp<HealthOptions>(
  async (fastify, opts) => {
    // Shorter than the request timeout, so a hung database gives a clean 503 here.
    const deadlineMs = Math.max(50, Math.floor(fastify.config.requestTimeoutMs / 2));
    // Probes are frequent: log them at warn at most, never more than the configured level.
    const level = fastify.config.logLevel;
    const quiet: LogLevel = level === 'error' || level === 'fatal' || level === 'silent' ? level : 'warn';
    const routeOpts = { config: { skipHostGuard: true }, logLevel: quiet };

    fastify.get('/healthz', { ...routeOpts, schema: { response: { 200: statusSchema } } }, async () => ({
      status: 'ok',
    }));

    async function notReadyBecause(): Promise<string | undefined> {
      const check = (async () => {
        await fastify.sql`select 1`;
        const version = await appliedVersion(fastify.sql);
        if (version !== opts.expectedVersion) {
          return { reason: `schema version ${version}, this code expects ${opts.expectedVersion}` };
        }
        return { reason: undefined };
      })();
      try {
        const answer = await within(deadlineMs, check);
        return answer ? answer.reason : `database did not answer within ${deadlineMs} ms`;
      } catch (err) {
        return `database: ${(err as { code?: string }).code ?? (err as Error).message}`;
      }
    }

    // A check started before the socket opens (start.ts): a woken worker connects to its
    // database while it starts listening and the waker looks for it. The first /readyz
    // takes its answer if it is still coming or came within EARLY_FRESH_MS.
    let early: { at?: number; reason: Promise<string | undefined> } | undefined;
    fastify.decorate('checkReadinessEarly', () => {
      const check = { at: undefined as number | undefined, reason: notReadyBecause() };
      void check.reason.finally(() => (check.at = Date.now()));
      early = check;
    });

    fastify.get(
      '/readyz',
      { ...routeOpts, schema: { response: { 200: statusSchema, 503: errorSchema } } },
      async (request, reply) => {
        const first = early;
        early = undefined;
        const fresh = first && (first.at === undefined || Date.now() - first.at < EARLY_FRESH_MS);
        const reason = await (fresh ? first.reason : notReadyBecause());
        if (reason === undefined) return { status: 'ready' };
        request.log.warn({ reason }, 'not ready');
        return reply.code(503).send(errorBody(503, 'not ready'));
      },
    );
  },
  { name: 'health', dependencies: ['config', 'db'], fastify: '5.x' },
);
