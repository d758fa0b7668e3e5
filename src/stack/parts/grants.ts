/**
 * Who may connect to its database: owned by its role, CONNECT for that role only (its
 * dump role connects as a member of it), never PUBLIC or another role. Goes with the database.
 */
import { ident } from '../../postgres/admin.js';
import { grantDatabase } from '../../postgres/tenant-ddl.js';
import { dumpRoleName } from '../../postgres/tenant-session.js';
import { admin, type TenantPart } from './part.js';

export const grants: TenantPart = {
  name: 'grants',
  where: 'database',
  async check(t) {
    const sql = await admin(t);
    const rows = await sql<{ owner: string; grantee: string | null; privilege: string }[]>`
      select pg_get_userbyid(d.datdba) as owner, case when a.grantee = 0 then null else pg_get_userbyid(a.grantee) end as grantee, a.privilege_type as privilege
      from pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a where d.datname = ${t.name}`;
    const problems = [];
    if (rows[0] && rows[0].owner !== t.name) problems.push(`it was owned by ${rows[0].owner}`);
    const connect = rows.filter((r) => r.privilege === 'CONNECT');
    if (connect.some((r) => r.grantee === null)) problems.push('PUBLIC could connect');
    const others = [...new Set(connect.map((r) => r.grantee).filter((g): g is string => g !== null && g !== t.name && g !== dumpRoleName(t.name)))];
    if (others.length) problems.push(`${others.join(', ')} could connect`);
    if (!connect.some((r) => r.grantee === t.name)) problems.push('the role could not connect');
    return problems.length ? problems.join('; ') : undefined;
  },
  async ensure(t) {
    const sql = await admin(t);
    const db = ident(t.name);
    await sql.unsafe(`alter database ${db} owner to ${ident(t.name)}`);
    const rows = await sql<{ grantee: string }[]>`
      select distinct pg_get_userbyid(a.grantee) as grantee from pg_database d, aclexplode(d.datacl) a
      where d.datname = ${t.name} and a.grantee <> 0 and a.grantee <> d.datdba`;
    for (const r of rows) if (r.grantee !== dumpRoleName(t.name)) await sql.unsafe(`revoke all on database ${db} from ${ident(r.grantee)}`);
    await grantDatabase(sql, t.name, t.name);
  },
};
