/**
 * What `ecosystem.config.js` exports: every app of the stack, from the registry and its
 * recorded settings (SILO_HOME from the environment). Synchronous, because PM2 loads the file with
 * require(). The proxy config is rendered by `silo up`; this only reads what is there, and
 * makes the folders the workers' and the waker's sockets go in.
 */
import { existsSync } from 'node:fs';
import { loadStackConfig } from '../registry/settings.js';
import { homePaths } from '../common/paths.js';
import { readRegistry } from '../registry/registry.js';
import { backupApps, postgresApps, proxyApp, workerApps, type PM2App } from '../pm2/ecosystem.js';
import { proxyDriver } from '../proxy/kinds.js';
import { wakerApp } from '../hibernate/waker-app.js';
import { ceilingsApp } from '../pm2/ceilings-app.js';
import { certificateApps } from '../pm2/certificates-app.js';
import { controlApps } from '../pm2/control-app.js';
import { eventsApp } from '../pm2/events-app.js';
import { syncTenantRunDirs } from '../isolation/run-dirs.js';

export function ecosystemApps(env: NodeJS.ProcessEnv = process.env): PM2App[] {
  const cfg = loadStackConfig(env);
  const registry = readRegistry(homePaths(cfg.home).registry);
  const driver = proxyDriver(homePaths(cfg.home).proxy, cfg.proxy);
  const workers = workerApps(cfg, registry);
  // The sockets' folders and the proxy's routes, as `silo up` makes them.
  syncTenantRunDirs(cfg, registry);
  const apps = [...(cfg.databaseUrl ? [] : postgresApps(cfg, registry)), ...workers, wakerApp(cfg)];
  if (existsSync(driver.config)) apps.push(proxyApp(cfg, driver));
  apps.push(...backupApps(cfg), ceilingsApp(cfg), eventsApp(cfg), ...certificateApps(cfg), ...controlApps(cfg));
  return apps;
}
