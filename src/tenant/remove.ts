/**
 * `silo tenant remove`: one ordered list of idempotent steps (see steps.ts), run under
 * the tenant's lock and the registry lock. Nothing is dropped without a backup, and a
 * removal interrupted anywhere is finished by running the same command again, which
 * takes no second backup. A removal that fails before it dropped anything (its final
 * backup failed: a full disk, pg_dump refused) puts the tenant back in service (state,
 * worker, route) and says why.
 *
 *   mark-removing  record it as `removing` (from then on nothing renders a worker or a
 *                  route for it), and when this removal started
 *   then the parts of the tenant (stack/parts/parts.ts), last made first removed:
 *   remove-route   if the stack is up: render the proxy config without it, reload, and
 *                  wait until its host answers 404
 *   remove-worker  delete its PM2 app
 *   backup-replaced  after a restore: the database it replaced (`<name>_previous`, kept
 *                  until --discard-previous) is dumped beside its backups, kind `replaced`
 *                  (a restore --from brings it back), unless this removal already did
 *   backup         a `final` backup of its database (see backup.ts), unless this removal
 *                  already made one (a re-run makes no second one)
 *   remove-database  drop its database, and what restores and moves left beside it
 *                  (`_previous`, dumped above; a half-restored `_restore`; an `_incoming`
 *                  copy): owned by its role, they would keep the role from being dropped
 *   remove-dump-role, remove-role, remove-cpu-group (killing what is left in it),
 *   remove-os-user (under root, only a user silo made for it), remove-password-file
 *   unregister     delete it from the registry
 */
import type { SiloConfig } from '../common/config.js';
import { writeRegistry, type TenantEntry } from '../registry/registry.js';
import { databaseExists } from '../postgres/tenant-ddl.js';
import { setAllowConnections, sideExists, sideName } from '../postgres/side-database.js';
import { listBackups, type BackupEntry } from '../backup/manifest.js';
import { backupOn } from '../backup/backup.js';
import { onTenant, type TenantOperation } from './operation.js';
import { runSteps, stepFailure, type Step } from '../common/steps.js';
import { createTenant } from './create.js';
import { SiloError } from '../common/errors.js';
import { stackIsUp } from '../stack/live.js';
import { TENANT_PARTS, database, type PartContext, type TenantPart } from '../stack/parts/parts.js';
import { emit } from '../events/emit.js';

export interface RemoveResult {
  name: string;
  backup?: string;
  backupBytes?: number;
}

interface RemoveContext extends PartContext {
  /** its registry entry (kept after it is unregistered) */
  entry: TenantEntry;
  op: TenantOperation;
}

const entryOf = (c: RemoveContext): TenantEntry => c.entry;
const save = (c: RemoveContext) => writeRegistry(c.paths.registry, c.reg);

/** The final backup (or dump of what a restore replaced) this removal made, if it made one. */
function finalBackup(c: RemoveContext, kind: 'final' | 'replaced' = 'final'): BackupEntry | undefined {
  const since = entryOf(c).removal!.startedAt;
  return listBackups(c.cfg.home, c.name).find((b) => b.kind === kind && b.startedAt >= since);
}

/**
 * Remove's step for a part (stack/parts/part.ts): its `remove`, named `remove-<part>`.
 * Parts without one go with the part they live in (the grants, catalogs and schema with
 * the database).
 */
function removal(part: TenantPart): Step<RemoveContext> {
  return { name: `remove-${part.name}`, run: (c) => part.remove!(c) };
}

/** The parts, last made first removed; the database's backups come just before it goes. */
const backwards = [...TENANT_PARTS].reverse().filter((p) => p.remove);
const beforeDatabase = backwards.slice(0, backwards.indexOf(database));
const fromDatabase = backwards.slice(backwards.indexOf(database));

export const removeSteps: readonly Step<RemoveContext>[] = [
  {
    name: 'mark-removing',
    done: (c) => entryOf(c).state === 'removing',
    run(c) {
      const entry = entryOf(c);
      entry.removal = { from: entry.state === 'provisioning' ? 'provisioning' : 'ready', startedAt: new Date().toISOString() };
      entry.state = 'removing';
      save(c);
    },
  },
  ...beforeDatabase.map(removal),
  {
    name: 'backup-replaced',
    async run(c) {
      const s = await c.server();
      if (finalBackup(c, 'replaced') || !(await sideExists(s.admin, c.name, 'previous'))) return;
      // The swap closed it to new sessions; it is opened to be read, then dropped below.
      await setAllowConnections(s.admin, sideName(c.name, 'previous'), true);
      await backupOn(c.cfg, c.reg, s, c.name, { kind: 'replaced', database: sideName(c.name, 'previous') });
    },
  },
  {
    name: 'backup',
    done: async (c) => finalBackup(c) !== undefined || !(await databaseExists((await c.server()).admin, c.name)),
    run: async (c) => backupOn(c.cfg, c.reg, await c.server(), c.name, { kind: 'final' }),
  },
  ...fromDatabase.map(removal),
  {
    name: 'unregister',
    run(c) {
      delete c.reg.tenants[c.name];
      save(c);
    },
  },
];

/** Steps after which something is gone: a failure before the first of them changed nothing lasting. */
const DROPS = new Set([...fromDatabase.map((p) => `remove-${p.name}`), 'unregister']);

/**
 * A removal that failed before dropping anything: the tenant is recorded as it was and
 * create's steps bring back its worker and route. Returns what went wrong
 * doing that, if anything did.
 */
async function putBack(c: RemoveContext): Promise<string | undefined> {
  const entry = entryOf(c);
  const from = entry.removal?.from ?? 'ready';
  try {
    entry.state = from;
    delete entry.removal;
    save(c);
    if (from === 'ready') await createTenant(c.cfg, c.name);
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

export async function removeTenant(cfg: SiloConfig, name: string): Promise<RemoveResult> {
  return onTenant(cfg, name, { what: 'tenant.remove', registryLock: true }, async (op) => {
    const c: RemoveContext = { cfg, name, paths: op.paths, reg: op.reg, entry: op.entry!, live: await stackIsUp(), op, server: () => op.server(c.entry.server) };
    try {
      await runSteps('remove', removeSteps, c);
    } catch (err) {
      const at = stepFailure(err)?.step;
      if (!at || DROPS.has(at) || !c.reg.tenants[name]) throw err;
      const why = `${(err as Error).message.split('\n')[0]}`;
      const failed = await putBack(c);
      if (failed) throw new SiloError(`removing "${name}" stopped at ${at} (${why}); nothing was dropped, but putting it back in service failed too (${failed}): run silo tenant remove ${name} --yes again once that is fixed`);
      throw new SiloError(`removing "${name}" stopped at ${at} (${why}); nothing was dropped and it is back in service${c.live ? ' (its worker and route are up again)' : ''}`);
    }
    const backup = finalBackup(c);
    emit(cfg, 'tenant.removed', { tenant: name, backup: backup?.file });
    return backup ? { name, backup: backup.file, backupBytes: backup.bytes } : { name };
  });
}
