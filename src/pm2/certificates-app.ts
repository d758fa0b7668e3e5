/** The certificate renewal job's PM2 app (src/proxy/tls/renew-main.ts): nginx with ACME only (Caddy renews its own). */
import { join } from 'node:path';
import { projectRoot, type SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { NAMESPACE, type PM2App } from './ecosystem.js';

export const CERTIFICATES_APP = 'certificates';

export function certificateApps(cfg: SiloConfig): PM2App[] {
  if (!cfg.tls || !cfg.acmeDirectory || cfg.proxy !== 'nginx') return [];
  const logs = homePaths(cfg.home).logs;
  return [
    {
      name: CERTIFICATES_APP,
      namespace: NAMESPACE,
      script: join(projectRoot, 'dist', 'proxy', 'tls', 'renew-main.js'),
      cwd: projectRoot,
      exec_mode: 'fork',
      autorestart: true,
      exp_backoff_restart_delay: 1000,
      kill_timeout: 5000,
      pmx: false,
      filter_env: ['SILO_', 'PG', 'DATABASE', 'PASSWORD', 'SECRET', 'TOKEN', 'KEY', 'AWS_', 'npm_', 'DB_', 'TENANT'],
      // Its settings come from the registry (recorded by silo up).
      env: { NODE_ENV: 'production', SILO_HOME: cfg.home },
      out_file: join(logs, `${CERTIFICATES_APP}.out.log`),
      error_file: join(logs, `${CERTIFICATES_APP}.err.log`),
      merge_logs: true,
      time: false,
    },
  ];
}
