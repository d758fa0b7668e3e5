/**
 * The stack's app (SILO_APP, or the bundled sample) checked before `up` and `tenant
 * create` start anything: a bad app is this one line, not a worker failing under PM2.
 */
import type { SiloConfig } from '../common/config.js';
import { stackAppEntry } from '../tenant/app-migrations.js';
import { checkApp, type AppInfo } from './check.js';

export function checkStackApp(cfg: SiloConfig): Promise<AppInfo> {
  return checkApp(stackAppEntry(cfg), cfg.app);
}
