/** `silo tenant list` and `GET /v1/tenants`: the registry's tenants as rows, by name. */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry } from '../registry/registry.js';
import { releaseSummary } from '../apps/releases.js';
import { tenantUrl } from '../stack/stack.js';
import { tenantHosts } from './create.js';

export type TenantRow = ReturnType<typeof listTenants>[number];

export function listTenants(cfg: SiloConfig, only?: string) {
  const reg = readRegistry(homePaths(cfg.home).registry);
  return Object.entries(reg.tenants)
    .filter(([name]) => only === undefined || name === only)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, t]) => ({
      name,
      server: t.server,
      port: t.port,
      state: t.state,
      schemaVersion: t.schemaVersion,
      release: releaseSummary(cfg, t.release?.id),
      hosts: tenantHosts(cfg, name, t),
      url: tenantUrl(cfg, name, t.domains),
    }));
}
