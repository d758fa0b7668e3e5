/** The control API's PM2 app (src/control/control-main.ts), when SILO_CONTROL=on. */
import type { SiloConfig } from '../common/config.js';
import { controlPlaneApp, type PM2App } from './ecosystem.js';

export const CONTROL_APP = 'control';

/**
 * Test-only hooks (src/common/crash-point.ts) for the app alone: `silo up` given
 * SILO_TEST_CONTROL_HOLD_AT/_FILE passes them on as SILO_TEST_HOLD_AT/_FILE (under their
 * own names, `up`'s own demo creations would hold at the point too).
 */
const TEST_HOOKS = { SILO_TEST_CONTROL_HOLD_AT: 'SILO_TEST_HOLD_AT', SILO_TEST_CONTROL_HOLD_FILE: 'SILO_TEST_HOLD_FILE' };

export function controlApps(cfg: SiloConfig): PM2App[] {
  if (!cfg.control) return [];
  const hooks = Object.fromEntries(Object.entries(TEST_HOOKS).flatMap(([from, to]) => (process.env[from] ? [[to, process.env[from]!]] : [])));
  // Its settings come from the registry (recorded by silo up), secrets from their files.
  return [
    controlPlaneApp(cfg, CONTROL_APP, 'control/control-main.js', {
      wait_ready: true,
      listen_timeout: 15_000,
      exp_backoff_restart_delay: 200,
      env: { NODE_ENV: 'production', SILO_HOME: cfg.home, ...hooks },
    }),
  ];
}
