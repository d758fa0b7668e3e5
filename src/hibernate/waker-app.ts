/**
 * The waker's PM2 app definition. It listens on a Unix socket in the run folder's
 * `_proxy/` (src/isolation/run-dirs.ts): only the proxy's user and root (the CLI) reach
 * it, so nobody else can put a tenant to sleep or learn anything from it. It runs
 * whenever the stack runs: besides hibernation it is what holds a request while a
 * tenant's worker restarts (a reload, a deploy, a crash, max_memory_restart).
 */
import { join } from 'node:path';
import { projectRoot, type SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { runPaths } from '../common/run-dir.js';
import { NAMESPACE, type PM2App } from '../pm2/ecosystem.js';
import { proxyUser } from '../isolation/run-dirs.js';

export const WAKER_APP = 'waker';

export function wakerApp(cfg: SiloConfig): PM2App {
  const logs = homePaths(cfg.home).logs;
  // Everything but the admin database URL (the only secret in the settings).
  const { databaseUrl: _secret, ...settings } = cfg;
  const group = proxyUser(cfg)?.gid;
  return {
    name: WAKER_APP,
    namespace: NAMESPACE,
    script: join(projectRoot, 'dist', 'hibernate', 'waker-main.js'),
    cwd: projectRoot,
    exec_mode: 'fork',
    autorestart: true,
    wait_ready: true,
    listen_timeout: 10_000,
    kill_timeout: 5000,
    exp_backoff_restart_delay: 200,
    pmx: false,
    disable_source_map_support: true,
    filter_env: ['SILO_', 'PG', 'DATABASE', 'PASSWORD', 'SECRET', 'TOKEN', 'KEY', 'AWS_', 'npm_', 'DB_', 'TENANT'],
    env: {
      NODE_ENV: 'production',
      SILO_WAKER_SOCKET: runPaths(cfg.home).wakerSocket,
      ...(group !== undefined ? { SILO_WAKER_GROUP: String(group) } : {}),
      SILO_WAKER_CONFIG: JSON.stringify(settings),
    },
    out_file: join(logs, `${WAKER_APP}.out.log`),
    error_file: join(logs, `${WAKER_APP}.err.log`),
    merge_logs: true,
    time: false,
  };
}
