/** The ceilings watcher's PM2 app definition (src/isolation/ceilings-main.ts). */
import { join } from 'node:path';
import { projectRoot, type SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { NAMESPACE, type PM2App } from './ecosystem.js';

export const CEILINGS_APP = 'ceilings';

export function ceilingsApp(cfg: SiloConfig): PM2App {
  const logs = homePaths(cfg.home).logs;
  return {
    name: CEILINGS_APP,
    namespace: NAMESPACE,
    script: join(projectRoot, 'dist', 'isolation', 'ceilings-main.js'),
    cwd: projectRoot,
    exec_mode: 'fork',
    autorestart: true,
    exp_backoff_restart_delay: 1000,
    kill_timeout: 5000,
    pmx: false,
    disable_source_map_support: true,
    filter_env: ['SILO_', 'PG', 'DATABASE', 'PASSWORD', 'SECRET', 'TOKEN', 'KEY', 'AWS_', 'npm_', 'DB_', 'TENANT'],
    env: { NODE_ENV: 'production', SILO_HOME: cfg.home },
    out_file: join(logs, `${CEILINGS_APP}.out.log`),
    error_file: join(logs, `${CEILINGS_APP}.err.log`),
    merge_logs: true,
    time: false,
  };
}
