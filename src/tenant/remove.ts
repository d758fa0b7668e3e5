/**
 * Removing a tenant: dump its database to $SILO_HOME/backups first (nothing is dropped
 * without a backup), then drop the database and the role, delete its secret and
 * unregister it. Also cleans up a tenant whose creation never finished.
 */
import { chmodSync, closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, withRegistryLock, writeRegistry } from '../registry/registry.js';
import { adminUrl, parseUrl, withServer } from '../servers/servers.js';
import { removeSecret } from '../common/secrets.js';
import { databaseExists, dropDatabase, dropRole } from '../postgres/tenant-ddl.js';
import { dumpDatabase, findPgDump } from '../postgres/pg-dump.js';
import { SiloError } from '../common/errors.js';

export interface RemoveResult {
  name: string;
  backup?: string;
  backupBytes?: number;
}

export async function removeTenant(cfg: SiloConfig, name: string): Promise<RemoveResult> {
  const paths = homePaths(cfg.home);
  return withRegistryLock(paths.registry, async () => {
    const reg = readRegistry(paths.registry);
    const tenant = reg.tenants[name];
    if (!tenant) throw new SiloError(`no tenant named "${String(name).slice(0, 40)}"`);
    const result: RemoveResult = { name };

    await withServer(cfg, reg, tenant.server, async (s) => {
      if (await databaseExists(s.admin, name)) {
        const [v] = await s.admin<{ major: number }[]>`select current_setting('server_version_num')::int / 10000 as major`;
        const pgDump = await findPgDump(v!.major);
        mkdirSync(paths.backups, { recursive: true, mode: 0o700 });
        chmodSync(paths.backups, 0o700);
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const file = join(paths.backups, `${name}-${stamp}.dump`);
        closeSync(openSync(file, 'w', 0o600)); // pg_dump keeps the mode of an existing file
        const { user, password } = parseUrl(adminUrl(cfg, tenant.server));
        try {
          await dumpDatabase(pgDump, { host: s.entry.host, port: s.entry.port, user, password, database: name }, file);
        } catch (err) {
          rmSync(file, { force: true });
          throw new SiloError(`${(err as Error).message}; nothing was dropped`);
        }
        result.backup = file;
        result.backupBytes = statSync(file).size;
        await dropDatabase(s.admin, name);
      }
      await dropRole(s.admin, name);
    });

    removeSecret(paths.tenantPassword(name));
    delete reg.tenants[name];
    writeRegistry(paths.registry, reg);
    return result;
  });
}
