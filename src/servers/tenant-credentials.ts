import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import type { Registry } from '../registry/registry.js';
import { readSecret } from '../common/secrets.js';
import type { TenantCredentials } from '../postgres/admin.js';
import { SiloError } from '../common/errors.js';

/** How to reach one tenant's database as that tenant's own role. */
export function tenantCredentials(cfg: SiloConfig, reg: Registry, name: string): TenantCredentials {
  const tenant = reg.tenants[name];
  if (!tenant) throw new SiloError(`no tenant named "${name}"`);
  const server = reg.servers[tenant.server];
  if (!server) throw new SiloError(`tenant "${name}" is on unknown server "${tenant.server}"`);
  const password = readSecret(homePaths(cfg.home).tenantPassword(name));
  if (!password) throw new SiloError(`the password file of tenant "${name}" is missing`);
  return { host: server.host, port: server.port, database: name, user: name, password };
}
