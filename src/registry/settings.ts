/**
 * The stack's recorded settings. Whatever the environment of the first `silo up` (or
 * the first command that sets up $SILO_HOME) said about the proxy, the domain, ports,
 * the app and worker limits is written into the registry; every later command, `reload`,
 * the workers and `pm2 start ecosystem.config.js` use the recorded values, whichever
 * shell runs them. An environment value that differs from the recorded one is refused
 * in one line (it would render the proxy or the workers differently from what runs);
 * `silo up` on a stack that is not running records the new value instead.
 */
import { loadConfig, type SiloConfig } from '../common/config.js';
import { SiloError } from '../common/errors.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, type Registry } from './registry.js';

/** The recorded part of SiloConfig, by the environment variable that sets each. */
const RECORDED = {
  proxy: 'SILO_PROXY',
  runtime: 'SILO_RUNTIME',
  swarmEngines: 'SILO_SWARM_ENGINES',
  swarmBaseImage: 'SILO_SWARM_BASE_IMAGE',
  edgePort: 'SILO_EDGE_PORT',
  edgeControlPort: 'SILO_EDGE_CONTROL_PORT',
  domain: 'SILO_DOMAIN',
  httpHost: 'SILO_HTTP_HOST',
  httpPort: 'SILO_HTTP_PORT',
  workerPortBase: 'SILO_WORKER_PORT_BASE',
  poolMax: 'SILO_POOL_MAX',
  pgMaxConnections: 'SILO_PG_MAX_CONNECTIONS',
  dbIdleTimeout: 'SILO_DB_IDLE_TIMEOUT',
  workerMaxMemory: 'SILO_WORKER_MAX_MEMORY',
  tenantRate: 'SILO_TENANT_RATE',
  tenantCpu: 'SILO_TENANT_CPU',
  tenantPids: 'SILO_TENANT_PIDS',
  tenantMemory: 'SILO_TENANT_MEMORY',
  tenantDbSize: 'SILO_TENANT_DB_SIZE',
  tenantLogSize: 'SILO_TENANT_LOG_SIZE',
  dbSizeCheck: 'SILO_DB_SIZE_CHECK',
  // The ceilings watcher rotates the logs with these.
  logMax: 'SILO_LOG_MAX',
  logFiles: 'SILO_LOG_FILES',
  workerNodeArgs: 'SILO_WORKER_NODE_ARGS',
  // The stack's app: what a tenant without a release runs, whichever shell reloads it.
  app: 'SILO_APP',
  // Scheduled backups run as a PM2 app of the stack, from these.
  backupCron: 'SILO_BACKUP_CRON',
  backupKeep: 'SILO_BACKUP_KEEP',
  hibernateAfter: 'SILO_HIBERNATE_AFTER',
  // Whether workers count their requests (their environment).
  metrics: 'SILO_METRICS',
  // HTTPS: the proxy's listeners and where its certificates come from.
  tls: 'SILO_TLS',
  httpsPort: 'SILO_HTTPS_PORT',
  tlsCert: 'SILO_TLS_CERT',
  tlsKey: 'SILO_TLS_KEY',
  hsts: 'SILO_HSTS',
  acmeDirectory: 'SILO_ACME_DIRECTORY',
  acmeEmail: 'SILO_ACME_EMAIL',
  acmeCa: 'SILO_ACME_CA',
  acmeRenewBefore: 'SILO_ACME_RENEW_BEFORE',
  acmeCheck: 'SILO_ACME_CHECK',
  // The control API runs as a PM2 app of the stack when on.
  control: 'SILO_CONTROL',
  controlHost: 'SILO_CONTROL_HOST',
  // The events app delivers webhooks with these.
  webhookRetry: 'SILO_WEBHOOK_RETRY',
  webhookAttempts: 'SILO_WEBHOOK_ATTEMPTS',
  webhookTimeout: 'SILO_WEBHOOK_TIMEOUT',
} as const satisfies Partial<Record<keyof SiloConfig, string>>;

type Key = keyof typeof RECORDED;

/** The environment variables whose values the registry records (a service unit leaves them out). */
export const recordedVariables = (): string[] => Object.values(RECORDED);

export type StackSettings = Partial<Pick<SiloConfig, Key>> & {
  recordedAt: string;
  /** set by `silo up`, cleared by `silo down`: the stack is supposed to run */
  running?: boolean;
};

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const shown = (v: unknown) => (v === undefined ? '(unset)' : Array.isArray(v) ? JSON.stringify(v.join(' ')) : String(v));

export function settingsOf(cfg: SiloConfig): Partial<Pick<SiloConfig, Key>> {
  const out: Partial<Record<Key, unknown>> = {};
  for (const key of Object.keys(RECORDED) as Key[]) if (cfg[key] !== undefined) out[key] = cfg[key];
  return out as Partial<Pick<SiloConfig, Key>>;
}

export interface SettingChange {
  variable: string;
  from: string;
  to: string;
}

/**
 * `cfg` (from the environment) with the recorded settings applied. A variable set in
 * `env` to another value than the recorded one is refused, unless `mayChange` (then
 * the environment's value is kept, for the caller to record). A setting never
 * recorded comes from `cfg`.
 */
export function applySettings(cfg: SiloConfig, env: NodeJS.ProcessEnv, recorded: StackSettings | undefined, mayChange = false): SiloConfig {
  if (!recorded) return cfg;
  const merged: SiloConfig = { ...cfg };
  for (const [key, variable] of Object.entries(RECORDED) as [Key, string][]) {
    if (!(key in recorded)) continue;
    const was = recorded[key];
    if (env[variable] !== undefined && !same(was, cfg[key])) {
      if (mayChange) continue;
      throw new SiloError(
        `${variable}=${shown(cfg[key])} differs from this stack's recorded ${shown(was)}: unset it to use the recorded value, or change it with silo down, then ${variable}=... silo up`,
      );
    }
    (merged as Record<Key, unknown>)[key] = was;
  }
  return merged;
}

/**
 * Record `cfg`'s settings into `reg`: the ones never recorded, or with `replace` all of
 * them (`silo up` on a stopped stack). Returns what changed from a recorded value.
 */
export function recordSettings(reg: Registry, cfg: SiloConfig, replace = false): SettingChange[] {
  const before: Partial<Record<Key, unknown>> = reg.settings ?? {};
  const now = settingsOf(cfg);
  const changes: SettingChange[] = [];
  const next: Partial<Record<Key, unknown>> = {};
  for (const [key, variable] of Object.entries(RECORDED) as [Key, string][]) {
    const has = key in before;
    const value = has && !replace ? before[key] : now[key];
    if (value !== undefined) next[key] = value;
    if (has && !same(before[key], value)) changes.push({ variable, from: shown(before[key]), to: shown(value) });
  }
  const added = Object.keys(next).some((k) => !(k in before));
  if (reg.settings && !added && changes.length === 0) return changes;
  reg.settings = { ...next, recordedAt: new Date().toISOString(), ...(reg.settings?.running ? { running: true } : {}) } as StackSettings;
  return changes;
}

/** Whether `cfg` sets something the registry has not recorded yet. */
export function unrecorded(reg: Registry, cfg: SiloConfig): boolean {
  const recorded = reg.settings;
  return !recorded || Object.keys(settingsOf(cfg)).some((k) => !(k in recorded));
}

/**
 * The configuration every command and the ecosystem file run with: the environment
 * (validated), with the stack's recorded settings applied. `forUp`: `silo up` may change
 * a setting while the stack is not supposed to run.
 */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env, opts: { forUp?: boolean } = {}): SiloConfig {
  let cfg: SiloConfig;
  try {
    cfg = loadConfig(env);
  } catch (err) {
    throw new SiloError((err as Error).message);
  }
  const recorded = readRegistry(homePaths(cfg.home).registry).settings;
  return applySettings(cfg, env, recorded, opts.forUp === true && !recorded?.running);
}
