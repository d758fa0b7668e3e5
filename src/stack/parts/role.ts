/**
 * Its role: silo's (marked), logs in, no privileges (superuser, createdb, createrole,
 * replication, bypassrls), its connection limit, and the password in its password file
 * opens its database. Removed last on the database side: its database and dump role go first.
 */
import { connectionProblem } from '../../postgres/admin.js';
import { dropRole, ensureRole, ownedBy } from '../../postgres/tenant-ddl.js';
import { connectAs } from '../../postgres/tenant-session.js';
import { tenantCredentials } from '../../servers/tenant-credentials.js';
import { readSecret } from '../../common/secrets.js';
import { connectionLimit } from '../../isolation/limits.js';
import { admin, entryOf, type TenantPart } from './part.js';

export const role: TenantPart = {
  name: 'role',
  where: 'database',
  async check(t) {
    const sql = await admin(t);
    const [r] = await sql<{ super: boolean; createdb: boolean; createrole: boolean; repl: boolean; bypass: boolean; login: boolean; limit: number }[]>`
      select rolsuper as super, rolcreatedb as createdb, rolcreaterole as createrole, rolreplication as repl,
             rolbypassrls as bypass, rolcanlogin as login, rolconnlimit as limit
      from pg_roles where rolname = ${t.name}`;
    if (!r) return 'the role was missing';
    const problems = [];
    if ((await ownedBy(sql, 'role', t.name)) !== 'ours') problems.push('its silo mark was missing');
    for (const [flag, label] of [[r.super, 'superuser'], [r.createdb, 'createdb'], [r.createrole, 'createrole'], [r.repl, 'replication'], [r.bypass, 'bypassrls']] as const) {
      if (flag) problems.push(`it had ${label}`);
    }
    if (!r.login) problems.push('it could not log in');
    if (r.limit !== connectionLimit(t.cfg)) problems.push(`its connection limit was ${r.limit}`);
    if (problems.length === 0 && (await ownedBy(sql, 'database', t.name)) !== 'missing') {
      const failed = await connectionProblem(connectAs(tenantCredentials(t.cfg, t.reg, t.name)));
      if (failed) problems.push(`its password did not open its database (${failed})`);
    }
    return problems.length ? problems.join('; ') : undefined;
  },
  async ensure(t) {
    await ensureRole(await admin(t), t.name, readSecret(t.paths.tenantPassword(t.name))!, { connectionLimit: connectionLimit(t.cfg), adopt: true });
  },
  // An unmarked role is silo's when its creation never finished (its mark may be missing after a crash).
  remove: async (t) => dropRole(await admin(t), t.name, { adopt: entryOf(t).removal?.from === 'provisioning' }),
};
