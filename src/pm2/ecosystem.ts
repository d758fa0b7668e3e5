/**
 * PM2 app definitions derived from the registry: the embedded PostgreSQL server(s),
 * one worker per ready tenant, and the proxy. `ecosystem.config.js` at the project
 * root and `silo up` both use this, so `pm2 start ecosystem.config.js` and `silo up`
 * start the same stack.
 *
 * Workers run in fork mode, without an IPC channel to the PM2 daemon, each on a Unix
 * socket in its own folder (src/isolation/worker-launch.ts says why not cluster mode).
 * A restart (reload, deploy, max_memory_restart, a crash) is stop + start: meanwhile the
 * proxy finds no socket and holds the request in its wake path until the waker sees the
 * new process ready, then sends it on (src/proxy/nginx-wake.ts), so no request fails.
 */
import { join } from 'node:path';
import { isSocketFolder } from '../contract/pg-connect.js';
import { projectRoot, type SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import type { Registry } from '../registry/registry.js';
import { tenantHosts } from '../common/names.js';
import type { ProxyDriver } from '../proxy/driver.js';
import { tenantAppEntry } from '../apps/app-migrations.js';
import { APP_ERROR_EXIT } from '../contract/worker.js';
import { workerIsolation, workerIsolationEnv } from '../isolation/worker-app.js';
import { workerLaunch } from '../isolation/worker-launch.js';
import { proxyUser } from '../isolation/run-dirs.js';
import { runPaths } from '../common/run-dir.js';
import { parseDuration } from '../common/duration.js';
import { tenantPoolSize } from '../servers/connection-budget.js';
import { workerCodeRoot, workerEntry } from '../isolation/worker-code.js';

export const NAMESPACE = 'silo';
export const PROXY_APP = 'proxy';
export const BACKUP_APP = 'backups';
export const workerApp = (tenant: string) => `tenant-${tenant}`;
export const postgresApp = (server: string) => `postgres-${server}`;

/** Graceful close budget of a worker; PM2's kill_timeout must exceed it. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Names in the shell environment PM2 must not copy into apps (pm2 merges the launching
 * shell's env into every app; the array form of filter_env drops keys containing these).
 * Workers get their configuration only from `env` below.
 */
export const SCRUB = ['SILO_', 'PG', 'DATABASE', 'PASSWORD', 'SECRET', 'TOKEN', 'KEY', 'AWS_', 'npm_', 'DB_', 'TENANT'];

export type PM2App = Record<string, unknown> & { name: string };

function logFiles(cfg: SiloConfig, name: string) {
  const logs = homePaths(cfg.home).logs;
  return { out_file: join(logs, `${name}.out.log`), error_file: join(logs, `${name}.err.log`), merge_logs: true, time: false };
}

/**
 * A small process of the control plane (the waker, the ceilings watcher, the backup
 * scheduler, the certificate job): silo's own code from dist/, restarted with back-off,
 * the shell's secrets scrubbed, its settings read from the registry at $SILO_HOME unless
 * `overrides` says otherwise. One definition, so a new one cannot forget the scrub.
 */
export function controlPlaneApp(cfg: SiloConfig, name: string, script: string, overrides: Partial<PM2App> = {}): PM2App {
  return {
    name,
    namespace: NAMESPACE,
    script: join(projectRoot, 'dist', script),
    cwd: projectRoot,
    exec_mode: 'fork',
    autorestart: true,
    exp_backoff_restart_delay: 1000,
    kill_timeout: 5000,
    pmx: false,
    disable_source_map_support: true,
    filter_env: SCRUB,
    env: { NODE_ENV: 'production', SILO_HOME: cfg.home },
    ...logFiles(cfg, name),
    ...overrides,
  };
}

export function embeddedServers(registry: Registry): string[] {
  return Object.keys(registry.servers).filter((name) => registry.servers[name]!.kind === 'embedded');
}

export function postgresApps(cfg: SiloConfig, registry: Registry, only?: string): PM2App[] {
  return Object.entries(registry.servers)
    .filter(([name, s]) => s.kind === 'embedded' && (!only || only === name))
    .map(([name, s]) => ({
      name: postgresApp(name),
      namespace: NAMESPACE,
      script: join(projectRoot, 'dist', 'postgres', 'embedded-main.js'),
      cwd: projectRoot,
      exec_mode: 'fork',
      autorestart: true,
      wait_ready: true,
      listen_timeout: 30_000,
      kill_timeout: 15_000,
      exp_backoff_restart_delay: 200,
      filter_env: SCRUB,
      env: {
        NODE_ENV: 'production',
        SILO_PG_DATA: homePaths(cfg.home).pgData(name),
        SILO_PG_LISTEN_PORT: String(s.port),
        SILO_PG_SOCKET_DIR: isSocketFolder(s.host) ? s.host : '',
        SILO_PG_MAX_CONNECTIONS: String(cfg.pgMaxConnections),
      },
      ...logFiles(cfg, postgresApp(name)),
    }));
}

export function workerApps(cfg: SiloConfig, registry: Registry, only?: string): PM2App[] {
  const paths = homePaths(cfg.home);
  const run = runPaths(cfg.home);
  const code = workerCodeRoot(cfg);
  return Object.entries(registry.tenants)
    .filter(([name, t]) => t.state === 'ready' && (!only || only === name))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, t]) => {
      const server = registry.servers[t.server]!;
      // node_args (SILO_WORKER_NODE_ARGS), given to node by the launcher.
      const { uid: _uid, gid: _gid, node_args } = workerIsolation(cfg, name, code, cfg.workerNodeArgs);
      return {
        name: workerApp(name),
        namespace: NAMESPACE,
        // projectRoot, or under root from a private folder a copy its user can read; fork
        // mode, no IPC channel, as the tenant's user (src/isolation/worker-launch.ts).
        ...workerLaunch(cfg, name, workerEntry(code), node_args),
        cwd: code,
        kill_timeout: SHUTDOWN_GRACE_MS + 3000,
        max_memory_restart: t.maxMemory ?? cfg.workerMaxMemory,
        exp_backoff_restart_delay: 100,
        // An app that cannot load or register exits with this code: not restarted in a loop.
        stop_exit_codes: [APP_ERROR_EXIT],
        // (PM2's monitoring agent and source-map support are not loaded: node runs server.js
        // itself, not PM2's process container.)
        filter_env: SCRUB,
        env: {
          NODE_ENV: 'production',
          TENANT: name,
          SOCKET: run.workerSocket(name),
          ACTIVITY_FILE: run.activity(name),
          // SILO_METRICS=off: the worker counts nothing (src/worker/request-counts.ts).
          REQUEST_COUNTS_FILE: cfg.metrics ? run.requestCounts(name) : '',
          TENANT_HOSTS: tenantHosts(cfg, name, t).join(','),
          DB_HOST: server.host,
          DB_PORT: String(server.port),
          DB_SSLMODE: server.sslmode ?? '',
          DB_SSLROOTCERT: server.sslrootcert ?? '',
          DB_NAME: name,
          DB_USER: name,
          // The password stays in its 0600 file: `pm2 show` prints env, never this.
          DB_PASSWORD_FILE: paths.tenantPassword(name),
          // Its share of its server's connection budget (servers/connection-budget.ts).
          DB_POOL_MAX: String(tenantPoolSize(cfg, registry, t.server)),
          DB_IDLE_TIMEOUT_S: String(parseDuration(cfg.dbIdleTimeout) / 1000),
          SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
          LOG_LEVEL: 'info',
          ...workerIsolationEnv(cfg, name),
          // The tenant's release, or the stack's app; empty: the bundled sample.
          APP_MODULE: tenantAppEntry(cfg, t) ?? '',
        },
        ...logFiles(cfg, workerApp(name)),
      };
    });
}

export function proxyApp(cfg: SiloConfig, driver: ProxyDriver): PM2App {
  // Under root it serves as the proxy's own user (src/isolation/run-dirs.ts).
  const user = proxyUser(cfg);
  const { script, args, env } = driver.command(user ? { uid: user.uid, gid: user.gid } : undefined);
  return {
    name: PROXY_APP,
    namespace: NAMESPACE,
    script,
    args,
    interpreter: 'none',
    cwd: driver.dir,
    exec_mode: 'fork',
    autorestart: true,
    kill_timeout: 10_000,
    exp_backoff_restart_delay: 200,
    filter_env: SCRUB,
    env,
    ...logFiles(cfg, PROXY_APP),
  };
}

/** Scheduled backups (SILO_BACKUP_CRON): one small process that runs `backup --all` on time. */
export function backupApps(cfg: SiloConfig): PM2App[] {
  if (!cfg.backupCron) return [];
  // It reads the admin URLs from $SILO_HOME/secrets like any silo command.
  return [controlPlaneApp(cfg, BACKUP_APP, 'backup/scheduler-main.js')];
}
