/**
 * Inside its database: the server-wide catalogs and the functions that name other roles,
 * databases and sessions revoked from PUBLIC, and what pg_dump needs of them granted to its
 * dump role. Checked as the dump role; made by the one pinned superuser session in a
 * tenant database (postgres/tenant-session.ts). Goes with the database.
 */
import { adminUrl } from '../../servers/servers.js';
import { dumpCredentials } from '../../servers/tenant-credentials.js';
import { hardenTenantDatabase, hardeningProblems, withTenantSession } from '../../postgres/tenant-session.js';
import type { PartContext, TenantPart } from './part.js';

async function problems(t: PartContext): Promise<string[]> {
  await t.server(); // up (the embedded one started) before a session opens on it
  return withTenantSession(dumpCredentials(t.cfg, t.reg, t.name), (sql) => hardeningProblems(sql, t.name));
}

export const catalogs: TenantPart = {
  name: 'catalogs',
  where: 'database',
  check: async (t) => (await problems(t)).join('; ') || undefined,
  async ensure(t) {
    const server = await t.server();
    await hardenTenantDatabase(adminUrl(t.cfg, server.name), t.name, t.name);
    // A server whose admin is not a superuser cannot revoke them: said, not hidden.
    if ((await problems(t)).length) return "the server's admin is not a superuser, so other tenants' names stay listable";
    return 'hidden';
  },
};
