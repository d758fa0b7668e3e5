/**
 * What `ecosystem.config.js` exports: every app of the stack, from the registry and the
 * environment (SILO_HOME, SILO_PROXY, ...). Synchronous, because PM2 loads the file with
 * require(). The proxy config is rendered by `silo up`; this only reads what is there.
 */
import { existsSync } from 'node:fs';
import { loadConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry } from '../registry/registry.js';
import { postgresApps, proxyApp, workerApps, type PM2App } from './ecosystem.js';
import { proxyLayout } from '../proxy/config-files.js';

export function ecosystemApps(env: NodeJS.ProcessEnv = process.env): PM2App[] {
  const cfg = loadConfig(env);
  const registry = readRegistry(homePaths(cfg.home).registry);
  const layout = proxyLayout(homePaths(cfg.home).proxy, cfg.proxy);
  const apps = [...(cfg.databaseUrl ? [] : postgresApps(cfg, registry)), ...workerApps(cfg, registry)];
  if (existsSync(layout.config)) apps.push(proxyApp(cfg, layout));
  return apps;
}
