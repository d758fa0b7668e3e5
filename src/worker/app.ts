/**
 * The whole worker as one Fastify instance, for one tenant: what start.ts listens with
 * and what tests build. Tenancy enters here, once, through `config`; the tenant app is
 * registered last, in its own encapsulated context.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { loadMigrations } from '../migrate/files.js';
import { latestVersion } from '../migrate/pending.js';
import type { TenantApp } from '../contract/app-contract.js';
import { activityPlugin } from './activity.js';
import { requestCountsPlugin } from './request-counts.js';
import { bodyParsersPlugin } from './body-parsers.js';
import { configPlugin, type WorkerConfig } from './config.js';
import { dbPlugin } from './db.js';
import { deadlinePlugin } from './deadline.js';
import { drainPlugin } from './drain.js';
import { errorHandler } from './errors.js';
import { healthPlugin } from './health.js';
import { hostGuardPlugin } from './host-guard.js';
import { lazySerializers, lazyValidators } from './lazy-validation.js';
import { loggerOptions } from './logger.js';

/** Socket-level limits, so slow or idle clients cannot pin the process. */
export interface ServerTimeouts {
  /** Above the proxy's upstream keep-alive (nginx 60 s), so the proxy closes first. */
  keepAliveMs: number;
  /** Whole request headers must arrive within this (then 408). */
  headersMs: number;
  /** Whole request, body included (then 408). */
  requestMs: number;
  /** A socket with no traffic at all for this long is destroyed. */
  socketIdleMs: number;
  /** How often Node checks the two limits above. */
  checkIntervalMs: number;
}

export const defaultServerTimeouts: ServerTimeouts = {
  keepAliveMs: 65_000,
  headersMs: 10_000,
  requestMs: 30_000,
  socketIdleMs: 120_000,
  checkIntervalMs: 1_000,
};

export interface BuildOptions {
  app: TenantApp;
  timeouts?: Partial<ServerTimeouts>;
  /** Where log lines go (default stdout); tests capture them. */
  logStream?: NodeJS.WritableStream;
  /** Compile every route schema at ready() (the release check), not on first use. */
  eagerSchemas?: boolean;
}

export function buildWorker(config: WorkerConfig, opts: BuildOptions): FastifyInstance {
  // Read before anything listens: a worker without its migrations cannot judge readiness.
  const expectedVersion = latestVersion(loadMigrations(opts.app.migrationsDir));
  const t = { ...defaultServerTimeouts, ...opts.timeouts };

  const fastify = Fastify({
    logger: loggerOptions(config, opts.logStream),
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    // On its Unix socket the only peer is the proxy (only the proxy's user can enter the
    // folder), which overwrites X-Forwarded-For: one hop is trusted. Over TCP (a worker
    // run by hand), only a proxy on loopback.
    trustProxy: 'socket' in config.listen ? (_address: string, hop: number) => hop === 0 : '127.0.0.1',
    bodyLimit: config.bodyLimit,
    return503OnClosing: true,
    keepAliveTimeout: t.keepAliveMs,
    requestTimeout: t.requestMs,
    connectionTimeout: t.socketIdleMs,
    http: { headersTimeout: t.headersMs, connectionsCheckingInterval: t.checkIntervalMs },
    // Bodies are taken as sent: a string is not a number, an extra property is an error.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    // Validators and serializers built when a route first needs them (lazy-validation.ts):
    // a wake starts sooner.
    schemaController: opts.eagerSchemas ? undefined : ({ compilersFactory: { buildValidator: lazyValidators(), buildSerializer: lazySerializers() } } as unknown as FastifyServerOptions['schemaController']),
  });

  fastify.setErrorHandler(errorHandler);
  fastify.register(configPlugin, { config });
  fastify.register(deadlinePlugin);
  fastify.register(activityPlugin);
  fastify.register(requestCountsPlugin);
  fastify.register(drainPlugin);
  fastify.register(dbPlugin);
  fastify.register(bodyParsersPlugin);
  fastify.register(hostGuardPlugin);
  fastify.register(healthPlugin, { expectedVersion });
  fastify.register(opts.app.plugin);
  return fastify;
}
