/**
 * Its database: silo's (marked), owned by its role, CONNECT revoked from PUBLIC (the
 * grants and connections parts check those in detail). Removing it drops what restores
 * and moves left beside it too (`_previous`, dumped first by remove; a half-restored
 * `_restore`; an `_incoming` copy): owned by its role, they would keep the role from
 * being dropped.
 */
import { dropDatabase, ensureDatabase, ownedBy } from '../../postgres/tenant-ddl.js';
import { dropSide } from '../../postgres/side-database.js';
import { admin, entryOf, type PartContext, type TenantPart } from './part.js';

const SIDES = ['previous', 'restore', 'incoming'] as const;

/**
 * Whether an unmarked database of this name is still silo's: it is when the tenant never
 * finished creation (its mark may be missing after a crash), or when it is owned by the
 * tenant's own (marked) role.
 */
async function adoptDatabase(t: PartContext): Promise<boolean> {
  if (entryOf(t).removal?.from === 'provisioning') return true;
  const sql = await admin(t);
  if ((await ownedBy(sql, 'role', t.name)) !== 'ours') return false;
  const [row] = await sql<{ owner: string }[]>`select pg_get_userbyid(datdba) as owner from pg_database where datname = ${t.name}`;
  return row?.owner === t.name;
}

export const database: TenantPart = {
  name: 'database',
  where: 'database',
  async check(t) {
    const state = await ownedBy(await admin(t), 'database', t.name);
    return state === 'ours' ? undefined : state === 'missing' ? 'it was missing' : 'its silo mark was missing';
  },
  async ensure(t) {
    const exists = (await ownedBy(await admin(t), 'database', t.name)) !== 'missing';
    await ensureDatabase(await admin(t), t.name, { adopt: true });
    if (!exists) return `re-created empty (bring its data back with silo tenant restore ${t.name} --latest --yes)`;
  },
  async remove(t) {
    await dropDatabase(await admin(t), t.name, { adopt: await adoptDatabase(t) });
    for (const side of SIDES) await dropSide(await admin(t), t.name, side);
  },
};
