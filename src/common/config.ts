/**
 * The control plane's configuration: SILO_* environment variables, validated once with
 * the same JSON-schema mechanism the worker uses (env-schema, under @fastify/env).
 */
import envSchema from 'env-schema';
import { Cron } from 'croner';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { blockingFolder, isRoot } from './reach.js';
import { DURATION_PATTERN } from './duration.js';

/** silo's own folder (works from src/ under tap and from dist/ under node). */
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The folder of the project silo runs for: the nearest folder from `cwd` up holding a
 * package.json (a team's app repository that depends on silo, or silo's own checkout).
 */
export function projectFolder(cwd: string = process.cwd()): string {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(cwd);
  }
}

const schema = {
  type: 'object',
  properties: {
    SILO_HOME: { type: 'string', minLength: 1 },
    SILO_DOMAIN: {
      type: 'string',
      default: 'localhost',
      pattern: '^(?=.{1,200}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$',
    },
    SILO_HTTP_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 8080 },
    SILO_HTTP_HOST: { type: 'string', default: '127.0.0.1', pattern: '^[0-9a-fA-F.:]+$' },
    SILO_PROXY: { type: 'string', enum: ['nginx', 'caddy'], default: 'nginx' },
    // What runs the tenants' workers (src/runtime/): PM2 on this host, or a Docker Swarm.
    SILO_RUNTIME: { type: 'string', enum: ['pm2', 'swarm'], default: 'pm2' },
    // SILO_RUNTIME=swarm: the engines of the swarm's nodes (a Unix socket path or
    // http://host:port each, comma-separated), a manager first; the image with Node that
    // workers' images are built on.
    SILO_SWARM_ENGINES: { type: 'string', default: '', pattern: '^[^\\s]*$' },
    SILO_SWARM_BASE_IMAGE: { type: 'string', default: 'node:20-bookworm-slim', pattern: '^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$' },
    // SILO_RUNTIME=swarm: the port the edge service (nginx on nodes labelled silo.edge=true)
    // publishes (0: no edge service), and the control host's port its agents fetch routes
    // from and send wakes to (with a bearer token).
    SILO_EDGE_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 0 },
    SILO_EDGE_CONTROL_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 8079 },
    SILO_DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    SILO_PG_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 54329 },
    SILO_WORKER_PORT_BASE: { type: 'integer', minimum: 1024, maximum: 65000, default: 4100 },
    SILO_POOL_MAX: { type: 'integer', minimum: 1, maximum: 50, default: 4 },
    // The connection budget (src/servers/connection-budget.ts): the embedded servers'
    // max_connections, and how long a worker keeps a connection it has nothing to do with.
    SILO_PG_MAX_CONNECTIONS: { type: 'integer', minimum: 20, maximum: 10000, default: 400 },
    SILO_DB_IDLE_TIMEOUT: { type: 'string', default: '5s', pattern: '^[1-9][0-9]{0,6}(ms|s|m|h)$' },
    SILO_MIGRATE_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 32, default: 4 },
    // The tenant app: a folder, an entry file or an installed package name (see
    // src/apps/resolve.ts). Unset means the bundled polls sample.
    SILO_APP: { type: 'string', minLength: 1 },
    SILO_WORKER_MAX_MEMORY: { type: 'string', default: '200M', pattern: '^[0-9]+[KMG]$' },
    // Per-tenant limits (src/isolation/limits.ts): requests per second at the proxy (0: none)
    // and a CPU quota in percent of one core (0: none, an equal CPU weight only).
    SILO_TENANT_RATE: { type: 'integer', minimum: 0, maximum: 1000000, default: 20000 },
    SILO_TENANT_CPU: { type: 'integer', minimum: 0, maximum: 6400, default: 0 },
    // Ceilings per tenant (src/isolation/ceilings.ts): processes and threads of its worker,
    // a hard memory ceiling (unset: 1.5 x its max_memory_restart), its database's size, its
    // logs on disk; how often the database sizes are checked.
    SILO_TENANT_PIDS: { type: 'integer', minimum: 0, maximum: 1000000, default: 128 },
    SILO_TENANT_MEMORY: { type: 'string', pattern: '^[0-9]+[KMG]$' },
    SILO_TENANT_DB_SIZE: { type: 'string', default: '1G', pattern: '^[0-9]+[KMG]$' },
    SILO_TENANT_LOG_SIZE: { type: 'string', default: '20M', pattern: '^[0-9]+[KMG]$' },
    SILO_DB_SIZE_CHECK: { type: 'string', default: '30s', pattern: DURATION_PATTERN },
    // Every log silo keeps rotates past this size, keeping this many files (the live one
    // included): src/common/log-rotation.ts.
    SILO_LOG_MAX: { type: 'string', default: '10M', pattern: '^[0-9]+[KMG]$' },
    SILO_LOG_FILES: { type: 'integer', minimum: 1, maximum: 1000, default: 5 },
    // Node flags for every worker, e.g. "--max-semi-space-size=1" (less memory per idle
    // tenant, less throughput). Only --flags, so nothing else can be smuggled in.
    SILO_WORKER_NODE_ARGS: { type: 'string', default: '', pattern: '^(--[a-z0-9-]+(=[A-Za-z0-9._-]+)?( +|$))*$' },
    // Scheduled backups of every tenant: a cron expression (5 fields, or 6 with seconds
    // first), run by the PM2 app `backups` that `silo up` starts; keep the newest n each.
    SILO_BACKUP_CRON: { type: 'string', minLength: 9, maxLength: 100, pattern: '^[0-9A-Za-z*/,?#L -]+$' },
    SILO_BACKUP_KEEP: { type: 'integer', minimum: 1, maximum: 100000 },
    // A worker idle this long is stopped; its next request starts it (0 = never).
    SILO_HIBERNATE_AFTER: { type: 'string', default: '15m', pattern: DURATION_PATTERN },
    // HTTPS (src/proxy/tls/): the proxy listens on SILO_HTTPS_PORT and HTTP redirects there.
    // Certificates: SILO_TLS_CERT/KEY for *.<domain> (the operator's wildcard), ACME per
    // host with SILO_ACME_DIRECTORY, else a local CA silo makes (for localhost).
    SILO_TLS: { type: 'string', enum: ['on', 'off'], default: 'off' },
    SILO_HTTPS_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 8443 },
    SILO_TLS_CERT: { type: 'string', minLength: 1 },
    SILO_TLS_KEY: { type: 'string', minLength: 1 },
    // Strict-Transport-Security max-age in seconds (0: no header)
    SILO_HSTS: { type: 'integer', minimum: 0, maximum: 63072000, default: 0 },
    SILO_ACME_DIRECTORY: { type: 'string', pattern: '^https://[^\\s]+$' },
    SILO_ACME_EMAIL: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$' },
    // a CA file the ACME server's own HTTPS is checked against (a test CA such as pebble)
    SILO_ACME_CA: { type: 'string', minLength: 1 },
    // renew a certificate this long before it expires
    SILO_ACME_RENEW_BEFORE: { type: 'string', default: '720h', pattern: DURATION_PATTERN },
    // how often the certificate job looks for certificates to obtain or renew
    SILO_ACME_CHECK: { type: 'string', default: '1h', pattern: DURATION_PATTERN },
    // Webhook deliveries (src/events/deliver.ts): the first retry after this, doubling up to an
    // hour between attempts, given up after this many attempts; each attempt's time limit.
    SILO_WEBHOOK_RETRY: { type: 'string', default: '10s', pattern: '^[1-9][0-9]{0,6}(ms|s|m|h)$' },
    SILO_WEBHOOK_ATTEMPTS: { type: 'integer', minimum: 1, maximum: 100, default: 12 },
    SILO_WEBHOOK_TIMEOUT: { type: 'string', default: '10s', pattern: '^[1-9][0-9]{0,6}(ms|s|m|h)$' },
    // Workers count their requests for /metrics (src/metrics/); off: they count nothing.
    SILO_METRICS: { type: 'string', enum: ['on', 'off'], default: 'on' },
    // The control API (src/control/): the PM2 app `control` on <run>/control.sock.
    SILO_CONTROL: { type: 'string', enum: ['on', 'off'], default: 'off' },
    // ... and through the proxy on this host too (an admin host, e.g. admin.<domain>).
    SILO_CONTROL_HOST: { type: 'string', pattern: '^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$' },
  },
} as const;

export interface SiloConfig {
  home: string;
  domain: string;
  httpPort: number;
  httpHost: string;
  proxy: 'nginx' | 'caddy';
  runtime: 'pm2' | 'swarm';
  /** SILO_RUNTIME=swarm: the nodes' Engine API endpoints, a manager first */
  swarmEngines: string[];
  swarmBaseImage: string;
  /** SILO_RUNTIME=swarm: the edge service's published port (0: none), and the control host's port for its agents */
  edgePort: number;
  edgeControlPort: number;
  databaseUrl?: string;
  pgPort: number;
  workerPortBase: number;
  poolMax: number;
  /** max_connections of the embedded servers silo runs */
  pgMaxConnections: number;
  /** a duration: a worker closes a database connection idle this long */
  dbIdleTimeout: string;
  migrateConcurrency: number;
  /** SILO_APP: a path made absolute, or a package name; undefined means the bundled sample. */
  app?: string;
  workerMaxMemory: string;
  tenantRate: number;
  tenantCpu: number;
  tenantPids: number;
  tenantMemory?: string;
  tenantDbSize: string;
  tenantLogSize: string;
  dbSizeCheck: string;
  /** SILO_LOG_MAX: a size (`10M`) */
  logMax: string;
  logFiles: number;
  workerNodeArgs: string[];
  backupCron?: string;
  backupKeep?: number;
  /** a duration (`15m`, `30s`, `0` = never); per tenant in the registry's `hibernateAfter` */
  hibernateAfter: string;
  /** SILO_METRICS=on (default): workers count their requests for /metrics */
  metrics: boolean;
  /** SILO_TLS=on: HTTPS on httpsPort, HTTP redirects to it */
  tls: boolean;
  httpsPort: number;
  /** the operator's certificate and key for *.<domain> (both or neither) */
  tlsCert?: string;
  tlsKey?: string;
  /** Strict-Transport-Security max-age, 0: none */
  hsts: number;
  /** ACME directory URL: a certificate per host from it */
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCa?: string;
  acmeRenewBefore: string;
  acmeCheck: string;
  /** webhook deliveries: first retry delay (a duration), attempts before giving up, time limit of one */
  webhookRetry: string;
  webhookAttempts: number;
  webhookTimeout: string;
  /**
   * Who runs the operations done with this configuration, for the audit log (src/events/audit.ts):
   * not from the environment; a caller sets it (`{ ...cfg, actor: 'token:<id>' }` in the control
   * API). Unset: the Unix user running silo.
   */
  actor?: string;
  /** SILO_CONTROL=on: `silo up` starts the control API */
  control: boolean;
  /** SILO_CONTROL_HOST: the proxy serves the control API on this host too */
  controlHost?: string;
}

interface RawEnv {
  SILO_HOME?: string;
  SILO_DOMAIN: string;
  SILO_HTTP_PORT: number;
  SILO_HTTP_HOST: string;
  SILO_PROXY: 'nginx' | 'caddy';
  SILO_RUNTIME: 'pm2' | 'swarm';
  SILO_SWARM_ENGINES: string;
  SILO_SWARM_BASE_IMAGE: string;
  SILO_EDGE_PORT: number;
  SILO_EDGE_CONTROL_PORT: number;
  SILO_DATABASE_URL?: string;
  SILO_PG_PORT: number;
  SILO_WORKER_PORT_BASE: number;
  SILO_POOL_MAX: number;
  SILO_PG_MAX_CONNECTIONS: number;
  SILO_DB_IDLE_TIMEOUT: string;
  SILO_MIGRATE_CONCURRENCY: number;
  SILO_APP?: string;
  SILO_WORKER_MAX_MEMORY: string;
  SILO_TENANT_RATE: number;
  SILO_TENANT_CPU: number;
  SILO_TENANT_PIDS: number;
  SILO_TENANT_MEMORY?: string;
  SILO_TENANT_DB_SIZE: string;
  SILO_TENANT_LOG_SIZE: string;
  SILO_DB_SIZE_CHECK: string;
  SILO_LOG_MAX: string;
  SILO_LOG_FILES: number;
  SILO_WORKER_NODE_ARGS: string;
  SILO_BACKUP_CRON?: string;
  SILO_BACKUP_KEEP?: number;
  SILO_HIBERNATE_AFTER: string;
  SILO_TLS: 'on' | 'off';
  SILO_HTTPS_PORT: number;
  SILO_TLS_CERT?: string;
  SILO_TLS_KEY?: string;
  SILO_HSTS: number;
  SILO_ACME_DIRECTORY?: string;
  SILO_ACME_EMAIL?: string;
  SILO_ACME_CA?: string;
  SILO_ACME_RENEW_BEFORE: string;
  SILO_ACME_CHECK: string;
  SILO_WEBHOOK_RETRY: string;
  SILO_WEBHOOK_ATTEMPTS: number;
  SILO_WEBHOOK_TIMEOUT: string;
  SILO_METRICS: 'on' | 'off';
  SILO_CONTROL: 'on' | 'off';
  SILO_CONTROL_HOST?: string;
}

const isPath = (spec: string) => spec.startsWith('.') || spec.startsWith('/') || existsSync(resolve(spec));

/**
 * `.silo/` in the project; but under root with the project in a folder other users cannot
 * enter (/root is 0700), the PostgreSQL and tenant users could not reach it, so the state
 * goes to /var/lib/silo/<project>-<hash of its path> (root-owned; secrets stay 0600 there).
 */
export function defaultHome(project = projectFolder()): string {
  const inProject = resolve(project, '.silo');
  if (!isRoot() || !blockingFolder(inProject)) return inProject;
  const id = createHash('sha256').update(resolve(project)).digest('hex').slice(0, 8);
  return join('/var/lib/silo', `${basename(resolve(project))}-${id}`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SiloConfig {
  if (env.SILO_MIGRATIONS_DIR) {
    throw new Error('SILO_MIGRATIONS_DIR is gone: set SILO_APP to your app (its module exports migrationsDir)');
  }
  let raw: RawEnv;
  try {
    raw = envSchema<RawEnv>({ schema, data: env, dotenv: false });
  } catch (err) {
    throw new Error(`invalid configuration: ${(err as Error).message}`);
  }
  return {
    home: resolve(raw.SILO_HOME ?? defaultHome()),
    domain: raw.SILO_DOMAIN,
    httpPort: raw.SILO_HTTP_PORT,
    httpHost: raw.SILO_HTTP_HOST,
    proxy: raw.SILO_PROXY,
    runtime: raw.SILO_RUNTIME,
    swarmEngines: raw.SILO_SWARM_ENGINES.split(',').filter(Boolean),
    swarmBaseImage: raw.SILO_SWARM_BASE_IMAGE,
    edgePort: raw.SILO_EDGE_PORT,
    edgeControlPort: raw.SILO_EDGE_CONTROL_PORT,
    databaseUrl: raw.SILO_DATABASE_URL,
    pgPort: raw.SILO_PG_PORT,
    workerPortBase: raw.SILO_WORKER_PORT_BASE,
    poolMax: raw.SILO_POOL_MAX,
    pgMaxConnections: raw.SILO_PG_MAX_CONNECTIONS,
    dbIdleTimeout: raw.SILO_DB_IDLE_TIMEOUT,
    migrateConcurrency: raw.SILO_MIGRATE_CONCURRENCY,
    app: raw.SILO_APP ? (isPath(raw.SILO_APP) ? resolve(raw.SILO_APP) : raw.SILO_APP) : undefined,
    workerMaxMemory: raw.SILO_WORKER_MAX_MEMORY,
    tenantRate: raw.SILO_TENANT_RATE,
    tenantCpu: raw.SILO_TENANT_CPU,
    tenantPids: raw.SILO_TENANT_PIDS,
    tenantMemory: raw.SILO_TENANT_MEMORY,
    tenantDbSize: raw.SILO_TENANT_DB_SIZE,
    tenantLogSize: raw.SILO_TENANT_LOG_SIZE,
    dbSizeCheck: raw.SILO_DB_SIZE_CHECK,
    logMax: raw.SILO_LOG_MAX,
    logFiles: raw.SILO_LOG_FILES,
    workerNodeArgs: raw.SILO_WORKER_NODE_ARGS.split(/\s+/).filter(Boolean),
    backupCron: raw.SILO_BACKUP_CRON ? checkCron(raw.SILO_BACKUP_CRON) : undefined,
    backupKeep: raw.SILO_BACKUP_KEEP,
    hibernateAfter: raw.SILO_HIBERNATE_AFTER,
    webhookRetry: raw.SILO_WEBHOOK_RETRY,
    webhookAttempts: raw.SILO_WEBHOOK_ATTEMPTS,
    webhookTimeout: raw.SILO_WEBHOOK_TIMEOUT,
    metrics: raw.SILO_METRICS === 'on',
    ...tlsSettings(raw),
    ...controlSettings(raw),
  };
}

function tlsSettings(raw: RawEnv): Pick<SiloConfig, 'tls' | 'httpsPort' | 'tlsCert' | 'tlsKey' | 'hsts' | 'acmeDirectory' | 'acmeEmail' | 'acmeCa' | 'acmeRenewBefore' | 'acmeCheck'> {
  if (Boolean(raw.SILO_TLS_CERT) !== Boolean(raw.SILO_TLS_KEY)) throw new Error('invalid configuration: set both SILO_TLS_CERT and SILO_TLS_KEY, or neither');
  if (raw.SILO_TLS === 'on' && raw.SILO_HTTPS_PORT === raw.SILO_HTTP_PORT) throw new Error('invalid configuration: SILO_HTTPS_PORT must differ from SILO_HTTP_PORT');
  return {
    tls: raw.SILO_TLS === 'on',
    httpsPort: raw.SILO_HTTPS_PORT,
    tlsCert: raw.SILO_TLS_CERT ? resolve(raw.SILO_TLS_CERT) : undefined,
    tlsKey: raw.SILO_TLS_KEY ? resolve(raw.SILO_TLS_KEY) : undefined,
    hsts: raw.SILO_HSTS,
    acmeDirectory: raw.SILO_ACME_DIRECTORY,
    acmeEmail: raw.SILO_ACME_EMAIL,
    acmeCa: raw.SILO_ACME_CA ? resolve(raw.SILO_ACME_CA) : undefined,
    acmeRenewBefore: raw.SILO_ACME_RENEW_BEFORE,
    acmeCheck: raw.SILO_ACME_CHECK,
  };
}

function controlSettings(raw: RawEnv): Pick<SiloConfig, 'control' | 'controlHost'> {
  if (raw.SILO_CONTROL_HOST && raw.SILO_CONTROL !== 'on') throw new Error('invalid configuration: SILO_CONTROL_HOST needs SILO_CONTROL=on');
  return { control: raw.SILO_CONTROL === 'on', controlHost: raw.SILO_CONTROL_HOST };
}

/** A cron expression croner (the scheduler PM2 uses too) accepts, or one line saying why not. */
function checkCron(expr: string): string {
  try {
    new Cron(expr, { paused: true }).stop();
  } catch (err) {
    throw new Error(`invalid configuration: SILO_BACKUP_CRON "${expr}": ${(err as Error).message}`);
  }
  return expr;
}
