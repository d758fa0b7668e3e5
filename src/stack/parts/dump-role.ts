/**
 * Its dump role: pg_dump logs in as it (never as a superuser), a member of its role, with
 * its own password file (postgres/tenant-ddl.ts). A lost password file gets a new password,
 * and the role is given it.
 */
import { dropDumpRole, dumpRoleProblem, ensureDumpRole } from '../../postgres/tenant-ddl.js';
import { generatePassword, readSecret, removeSecret, writeSecret } from '../../common/secrets.js';
import { admin, type TenantPart } from './part.js';

export const dumpRole: TenantPart = {
  name: 'dump-role',
  where: 'database',
  async check(t) {
    if (readSecret(t.paths.dumpPassword(t.name)) === undefined) return 'its dump role had no password file';
    return dumpRoleProblem(await admin(t), t.name);
  },
  async ensure(t) {
    const file = t.paths.dumpPassword(t.name);
    if (readSecret(file) === undefined) writeSecret(file, generatePassword());
    await ensureDumpRole(await admin(t), t.name, readSecret(file)!);
    return 'made';
  },
  async remove(t) {
    await dropDumpRole(await admin(t), t.name);
    removeSecret(t.paths.dumpPassword(t.name));
  },
};
