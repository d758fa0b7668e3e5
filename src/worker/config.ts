/**
 * The worker's whole configuration: one JSON schema over the environment, validated at
 * boot (env-schema.ts: the few keywords this schema uses, with Ajv's coercion, defaults
 * and messages), then turned into a typed object.
 * Config is needed before Fastify exists (logger base, body limit, timeouts), so
 * `loadConfig` runs first and the `config` plugin only decorates what it returned.
 *
 * The database password never travels in the environment (PM2 prints env in
 * `pm2 show`): DB_PASSWORD_FILE names a file that only its owner can read.
 */
import { SSL_MODES, type PgAddress, type SslMode } from '../contract/pg-connect.js';
import fp from 'fastify-plugin';
import { validateEnv } from './env-schema.js';
import { checkSecretFile } from './secret-file.js';
import { TENANT_NAME_PATTERN, isHostName, normaliseHostName } from '../common/names.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const TENANT_PATTERN = TENANT_NAME_PATTERN;
export { isHostName };

export const configSchema = {
  type: 'object',
  required: ['TENANT', 'DB_PASSWORD_FILE'],
  properties: {
    TENANT: { type: 'string', pattern: TENANT_PATTERN },
    // Under silo: the Unix socket to listen on, in a folder only the tenant writes and only
    // the proxy enters. PORT/HOST (TCP) is for running a worker by hand or in tests.
    SOCKET: { type: 'string', maxLength: 107, pattern: '^(/.*)?$', default: '' },
    // A file the worker touches while it serves requests (the waker reads its time).
    ACTIVITY_FILE: { type: 'string', maxLength: 4096, pattern: '^(/.*)?$', default: '' },
    // Where it writes its request counts for /metrics (request-counts.ts); empty: not counted.
    REQUEST_COUNTS_FILE: { type: 'string', maxLength: 4096, pattern: '^(/.*)?$', default: '' },
    PORT: { type: 'integer', minimum: 0, maximum: 65535 },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    // Comma-separated; empty means `<TENANT>.localhost`.
    TENANT_HOSTS: { type: 'string', maxLength: 4000, default: '' },
    DB_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    DB_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 5432 },
    // TLS to an external server (contract/pg-connect.ts); DB_HOST may be a socket folder.
    DB_SSLMODE: { type: 'string', enum: ['', ...SSL_MODES], default: '' },
    DB_SSLROOTCERT: { type: 'string', maxLength: 4096, default: '' },
    // Empty means the tenant's name: a tenant's database and role are named after it.
    DB_NAME: { type: 'string', default: '' },
    DB_USER: { type: 'string', default: '' },
    DB_PASSWORD_FILE: { type: 'string', minLength: 1 },
    DB_POOL_MAX: { type: 'integer', minimum: 1, maximum: 100, default: 4 },
    DB_CONNECT_TIMEOUT_S: { type: 'number', exclusiveMinimum: 0, maximum: 120, default: 3 },
    // A connection idle this long is closed: an awake tenant with nothing to do holds no
    // server connection (silo sets it from SILO_DB_IDLE_TIMEOUT). 0: kept for ever.
    DB_IDLE_TIMEOUT_S: { type: 'number', minimum: 0, maximum: 86400, default: 5 },
    // A connection is closed once this old (give or take a quarter, so a pool's connections
    // do not all go at once) when it is next idle: on a server at its connection budget,
    // a pool that was refused a connection stops growing, and the slots its connections
    // free as they retire go to tenants that wait for one. 0: never.
    DB_MAX_LIFETIME_S: { type: 'number', minimum: 0, maximum: 86400, default: 60 },
    DB_STATEMENT_TIMEOUT_MS: { type: 'integer', minimum: 0, maximum: 3600000, default: 5000 },
    REQUEST_TIMEOUT_MS: { type: 'integer', minimum: 50, maximum: 600000, default: 10000 },
    SHUTDOWN_GRACE_MS: { type: 'integer', minimum: 100, maximum: 600000, default: 5000 },
    LOG_LEVEL: {
      type: 'string',
      enum: LOG_LEVELS,
      default: 'info',
    },
    // One log line per request costs ~30% of a worker's throughput under PM2 (every line
    // is an IPC message to the daemon): off by default; errors and 5xx are always logged.
    LOG_REQUESTS: { type: 'boolean', default: false },
    BODY_LIMIT: { type: 'integer', minimum: 1024, maximum: 10485760, default: 65536 },
    // Absolute path of the tenant app's entry module (its release); empty means the
    // bundled polls sample.
    APP_MODULE: { type: 'string', maxLength: 4096, default: '' },
  },
} as const;

interface RawEnv {
  TENANT: string;
  SOCKET: string;
  ACTIVITY_FILE: string;
  REQUEST_COUNTS_FILE: string;
  PORT?: number;
  HOST: string;
  TENANT_HOSTS: string;
  DB_HOST: string;
  DB_PORT: number;
  DB_SSLMODE: '' | SslMode;
  DB_SSLROOTCERT: string;
  DB_NAME: string;
  DB_USER: string;
  DB_PASSWORD_FILE: string;
  DB_POOL_MAX: number;
  DB_CONNECT_TIMEOUT_S: number;
  DB_IDLE_TIMEOUT_S: number;
  DB_MAX_LIFETIME_S: number;
  DB_STATEMENT_TIMEOUT_MS: number;
  REQUEST_TIMEOUT_MS: number;
  SHUTDOWN_GRACE_MS: number;
  LOG_LEVEL: LogLevel;
  LOG_REQUESTS: boolean;
  BODY_LIMIT: number;
  APP_MODULE: string;
}

export interface DbConfig extends PgAddress {
  database: string;
  user: string;
  passwordFile: string;
  poolMax: number;
  connectTimeoutS: number;
  idleTimeoutS: number;
  maxLifetimeS: number;
  statementTimeoutMs: number;
}

export interface WorkerConfig {
  tenant: string;
  /** where it listens: a Unix socket (under silo: only the proxy reaches it), or TCP */
  listen: { socket: string } | { host: string; port: number };
  /** touched while requests are served (undefined: activity is not reported) */
  activityFile?: string;
  /** where its request counts go (undefined: requests are not counted) */
  requestCountsFile?: string;
  /** Normalised host names (lower case, no port, no trailing dot) this tenant answers for. */
  tenantHosts: string[];
  db: DbConfig;
  requestTimeoutMs: number;
  shutdownGraceMs: number;
  logLevel: LogLevel;
  logRequests: boolean;
  bodyLimit: number;
  /** The app's entry module; undefined means the bundled sample. */
  appModule?: string;
}

/** A configuration problem; its message is one line meant for a human. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}


function parseHosts(raw: string, tenant: string): string[] {
  if (raw.trim() === '') return [`${tenant}.localhost`];
  const hosts = raw.split(',').map(normaliseHostName);
  for (const h of hosts) {
    if (!isHostName(h)) {
      throw new ConfigError(`TENANT_HOSTS entry "${h.slice(0, 80)}" is not a host name (IP addresses are not accepted)`);
    }
  }
  return [...new Set(hosts)];
}

/** Validates `env` (default: process.env) and checks the password file; throws ConfigError. */
export function loadConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const { value, errors } = validateEnv(configSchema, env);
  if (errors.length) throw new ConfigError(errors.join('; '));
  const raw = value as unknown as RawEnv;
  const tenantHosts = parseHosts(raw.TENANT_HOSTS, raw.TENANT);
  if (!raw.SOCKET && raw.PORT === undefined) throw new ConfigError("must have required property 'SOCKET' or 'PORT'");
  try {
    checkSecretFile(raw.DB_PASSWORD_FILE, 'DB_PASSWORD_FILE');
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return {
    tenant: raw.TENANT,
    listen: raw.SOCKET ? { socket: raw.SOCKET } : { host: raw.HOST, port: raw.PORT! },
    activityFile: raw.ACTIVITY_FILE || undefined,
    requestCountsFile: raw.REQUEST_COUNTS_FILE || undefined,
    tenantHosts,
    db: {
      host: raw.DB_HOST,
      port: raw.DB_PORT,
      ...(raw.DB_SSLMODE ? { sslmode: raw.DB_SSLMODE } : {}),
      ...(raw.DB_SSLROOTCERT ? { sslrootcert: raw.DB_SSLROOTCERT } : {}),
      database: raw.DB_NAME || raw.TENANT,
      user: raw.DB_USER || raw.TENANT,
      passwordFile: raw.DB_PASSWORD_FILE,
      poolMax: raw.DB_POOL_MAX,
      connectTimeoutS: raw.DB_CONNECT_TIMEOUT_S,
      idleTimeoutS: raw.DB_IDLE_TIMEOUT_S,
      maxLifetimeS: raw.DB_MAX_LIFETIME_S,
      statementTimeoutMs: raw.DB_STATEMENT_TIMEOUT_MS,
    },
    requestTimeoutMs: raw.REQUEST_TIMEOUT_MS,
    shutdownGraceMs: raw.SHUTDOWN_GRACE_MS,
    logLevel: raw.LOG_LEVEL,
    logRequests: raw.LOG_REQUESTS,
    bodyLimit: raw.BODY_LIMIT,
    appModule: raw.APP_MODULE || undefined,
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    config: WorkerConfig;
    /** The one tenant this process serves, fixed at boot. */
    tenant: string;
  }
}

/** Decorates `config` and `tenant`: the only place tenancy enters the worker. */
export const configPlugin = fp<{ config: WorkerConfig }>(
  async (fastify, opts) => {
    fastify.decorate('config', opts.config);
    fastify.decorate('tenant', opts.config.tenant);
  },
  { name: 'config', fastify: '5.x' },
);
