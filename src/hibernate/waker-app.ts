/**
 * The waker's PM2 app definition. It listens on a Unix socket in the run folder's
 * `_proxy/` (src/isolation/run-dirs.ts): only the proxy's user and root (the CLI) reach
 * it, so nobody else can put a tenant to sleep or learn anything from it. It runs
 * whenever the stack runs: besides hibernation it is what holds a request while a
 * tenant's worker restarts (a reload, a deploy, a crash, max_memory_restart).
 */
import type { SiloConfig } from '../common/config.js';
import { runPaths } from '../common/run-dir.js';
import { controlPlaneApp, type PM2App } from '../pm2/ecosystem.js';
import { proxyUser } from '../isolation/run-dirs.js';

export const WAKER_APP = 'waker';

export function wakerApp(cfg: SiloConfig): PM2App {
  // Everything but the admin database URL (the only secret in the settings).
  const { databaseUrl: _secret, ...settings } = cfg;
  const group = proxyUser(cfg)?.gid;
  return controlPlaneApp(cfg, WAKER_APP, 'hibernate/waker-main.js', {
    wait_ready: true,
    listen_timeout: 10_000,
    exp_backoff_restart_delay: 200,
    env: {
      NODE_ENV: 'production',
      SILO_WAKER_SOCKET: runPaths(cfg.home).wakerSocket,
      ...(group !== undefined ? { SILO_WAKER_GROUP: String(group) } : {}),
      SILO_WAKER_CONFIG: JSON.stringify(settings),
    },
  });
}
