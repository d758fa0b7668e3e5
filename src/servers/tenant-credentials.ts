/**
 * How the control plane logs in to a tenant's database: as the tenant's own role (its
 * migrations, its checks), or as its dump role (pg_dump, and reads while the tenant's
 * role may not log in, e.g. on a move's source). Never as the server's admin: see
 * postgres/tenant-session.ts.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { tenantEntry, type Registry, type ServerEntry } from '../registry/registry.js';
import type { PgAddress } from '../contract/pg-connect.js';
import { readSecret } from '../common/secrets.js';
import { dumpRoleName, type DbLogin } from '../postgres/tenant-session.js';
import { SiloError } from '../common/errors.js';

/** How to reach a registered server: its address and TLS settings. */
export function address(s: ServerEntry): PgAddress {
  return { host: s.host, port: s.port, ...(s.sslmode ? { sslmode: s.sslmode } : {}), ...(s.sslrootcert ? { sslrootcert: s.sslrootcert } : {}) };
}

function serverOf(reg: Registry, name: string, server?: string) {
  const tenant = tenantEntry(reg, name);
  const where = server ?? tenant.server;
  const entry = reg.servers[where];
  if (!entry) throw new SiloError(`tenant "${name}" is on unknown server "${where}"`);
  return entry;
}

/** How to reach one tenant's database as that tenant's own role. */
export function tenantCredentials(cfg: SiloConfig, reg: Registry, name: string): DbLogin {
  const server = serverOf(reg, name);
  const password = readSecret(homePaths(cfg.home).tenantPassword(name));
  if (!password) throw new SiloError(`the password file of tenant "${name}" is missing`);
  return { ...address(server), database: name, user: name, password };
}

/** How to reach one tenant's database (on `server`, default its own) as its dump role. */
export function dumpCredentials(cfg: SiloConfig, reg: Registry, name: string, server?: string): DbLogin {
  const entry = serverOf(reg, name, server);
  const password = readSecret(homePaths(cfg.home).dumpPassword(name));
  if (!password) throw new SiloError(`the dump role password of tenant "${name}" is missing (silo tenant repair ${name})`);
  return { ...address(entry), database: name, user: dumpRoleName(name), password };
}
