/**
 * Its schema: the migrations of the app it runs (its release, or the stack's) applied,
 * connected as its own role. Goes with the database.
 */
import { connectAs, schemaVersion, withTenantSession } from '../../postgres/tenant-session.js';
import { tenantCredentials } from '../../servers/tenant-credentials.js';
import { loadAppMigrations } from '../../apps/app-migrations.js';
import { migrate } from '../../migrate/run.js';
import { SiloError } from '../../common/errors.js';
import { entryOf, type TenantPart } from './part.js';

export const schema: TenantPart = {
  name: 'schema',
  where: 'database',
  async check(t) {
    const known = Math.max(0, ...(await loadAppMigrations(t.cfg, entryOf(t))).map((m) => m.version));
    await t.server();
    const v = await withTenantSession(tenantCredentials(t.cfg, t.reg, t.name), schemaVersion);
    return v === known ? undefined : `it was at version ${v} of ${known}`;
  },
  async ensure(t) {
    const migrations = await loadAppMigrations(t.cfg, entryOf(t));
    await t.server();
    const sql = connectAs(tenantCredentials(t.cfg, t.reg, t.name));
    try {
      entryOf(t).schemaVersion = (await migrate(sql, migrations)).to;
    } catch (err) {
      throw new SiloError(`migrating tenant "${t.name}" failed: ${(err as Error).message} (fix it, then run the same command again)`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  },
};
