/**
 * The waker's PM2 app definition, and its port: recorded under $SILO_HOME/hibernate the
 * first time the stack comes up, so the proxy config and `pm2 start ecosystem.config.js`
 * agree on it.
 */
import { join } from 'node:path';
import { projectRoot, type SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { freePort, isPortFree } from '../common/ports.js';
import { NAMESPACE, type PM2App } from '../pm2/ecosystem.js';
import { readWakerPort, writeWakerPort } from './state.js';

export const WAKER_APP = 'waker';

/** The recorded port; a new one when there is none or (waker stopped) it is taken now. */
export async function ensureWakerPort(cfg: SiloConfig, wakerOnline: boolean): Promise<number> {
  const recorded = readWakerPort(cfg.home);
  if (recorded && (wakerOnline || (await isPortFree(recorded)))) return recorded;
  const port = await freePort();
  writeWakerPort(cfg.home, port);
  return port;
}

export function wakerApp(cfg: SiloConfig, port: number): PM2App {
  const logs = homePaths(cfg.home).logs;
  // Everything but the admin database URL (the only secret in the settings).
  const { databaseUrl: _secret, ...settings } = cfg;
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
      SILO_WAKER_PORT: String(port),
      SILO_WAKER_CONFIG: JSON.stringify(settings),
    },
    out_file: join(logs, `${WAKER_APP}.out.log`),
    error_file: join(logs, `${WAKER_APP}.err.log`),
    merge_logs: true,
    time: false,
  };
}
