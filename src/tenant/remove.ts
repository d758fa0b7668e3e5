/**
 * `silo tenant remove`: one ordered list of idempotent steps (see steps.ts), run under
 * the tenant's lock and the registry lock. Nothing is dropped without a backup, and a
 * removal interrupted anywhere is finished by running the same command again, which
 * takes no second backup. A removal that fails before it dropped anything (its final
 * backup failed: a full disk, pg_dump refused) puts the tenant back in service (state,
 * CPU group, worker, route) and says why.
 *
 *   mark-removing  record it as `removing` (from then on nothing renders a worker or a
 *                  route for it), and when this removal started
 *   unroute        if the stack is up: render the proxy config without it, reload, and
 *                  wait until its host answers 404
 *   stop-worker    delete its PM2 app
 *   remove-cpu-group  its CPU group, if cgroups are in use
 *   backup-replaced  after a restore: the database it replaced (`<name>_previous`, kept
 *                  until --discard-previous) is dumped beside its backups, kind `replaced`
 *                  (a restore --from brings it back), unless this removal already did
 *   backup         a `final` backup of its database (see backup.ts), unless this removal
 *                  already made one (a re-run makes no second one)
 *   drop-database  drop its database
 *   drop-side      drop what restores and moves left beside it (`_previous`, dumped
 *                  above; a half-restored `_restore`; an `_incoming` copy): owned by its
 *                  role, they would keep the role from being dropped
 *   drop-role      drop its dump role and its role
 *   forget-secret  delete its password files
 *   remove-os-user under root: remove its Unix user (only one silo made for it)
 *   unregister     delete it from the registry
 */
import type { SiloConfig } from '../common/config.js';
import type { HomePaths } from '../common/paths.js';
import { writeRegistry, type Registry, type TenantEntry } from '../registry/registry.js';
import type { OpenServer } from '../servers/servers.js';
import { removeSecret } from '../common/secrets.js';
import { databaseExists, dropDatabase, dropDumpRole, dropRole, ownedBy } from '../postgres/tenant-ddl.js';
import { dropSide, setAllowConnections, sideExists, sideName } from '../postgres/side-database.js';
import { listBackups, type BackupEntry } from '../backup/manifest.js';
import { backupOn } from '../backup/backup.js';
import { onTenant, type TenantOperation } from './operation.js';
import { runSteps, stepFailure, type Step } from '../common/steps.js';
import { createTenant } from './create.js';
import { SiloError } from '../common/errors.js';
import { removeTenantUser, tenantUser } from '../isolation/tenant-user.js';
import { removeTenantCgroup } from '../isolation/cgroups.js';
import { removeTenantTmp } from '../isolation/ceilings.js';
import { primaryHost, stackIsUp, syncProxy, waitUnrouted } from '../stack/live.js';
import { removeWorker } from '../pm2/workers.js';

export interface RemoveResult {
  name: string;
  backup?: string;
  backupBytes?: number;
}

interface RemoveContext {
  cfg: SiloConfig;
  name: string;
  paths: HomePaths;
  reg: Registry;
  /** its registry entry (kept after it is unregistered) */
  entry: TenantEntry;
  live: boolean;
  op: TenantOperation;
}

const entryOf = (c: RemoveContext): TenantEntry => c.entry;
const save = (c: RemoveContext) => writeRegistry(c.paths.registry, c.reg);

/** The final backup (or dump of what a restore replaced) this removal made, if it made one. */
function finalBackup(c: RemoveContext, kind: 'final' | 'replaced' = 'final'): BackupEntry | undefined {
  const since = entryOf(c).removal!.startedAt;
  return listBackups(c.cfg.home, c.name).find((b) => b.kind === kind && b.startedAt >= since);
}

const SIDES = ['previous', 'restore', 'incoming'] as const;

const server = (c: RemoveContext): Promise<OpenServer> => c.op.server(entryOf(c).server);

/**
 * Whether an unmarked role or database of this name is still silo's: it is when the
 * tenant never finished creation (its marks may be missing after a crash), or when the
 * database is owned by the tenant's own (marked) role.
 */
async function adoptDatabase(c: RemoveContext): Promise<boolean> {
  if (entryOf(c).removal?.from === 'provisioning') return true;
  const s = await server(c);
  if ((await ownedBy(s.admin, 'role', c.name)) !== 'ours') return false;
  const [row] = await s.admin<{ owner: string }[]>`select pg_get_userbyid(datdba) as owner from pg_database where datname = ${c.name}`;
  return row?.owner === c.name;
}

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
  {
    name: 'unroute',
    done: (c) => !c.live,
    async run(c) {
      if (await syncProxy(c.cfg, c.reg, true)) await waitUnrouted(c.cfg, primaryHost(c.cfg, c.reg, c.name));
    },
  },
  {
    name: 'stop-worker',
    run: (c) => removeWorker(c.name),
  },
  {
    // Its groups, after killing what its worker left running in them; its temporary folder.
    name: 'remove-cpu-group',
    run: (c) => {
      removeTenantCgroup(c.cfg.home, c.name);
      removeTenantTmp(c.cfg, c.name);
    },
  },
  {
    name: 'backup-replaced',
    async run(c) {
      const s = await server(c);
      if (finalBackup(c, 'replaced') || !(await sideExists(s.admin, c.name, 'previous'))) return;
      // The swap closed it to new sessions; it is opened to be read, then dropped below.
      await setAllowConnections(s.admin, sideName(c.name, 'previous'), true);
      await backupOn(c.cfg, c.reg, s, c.name, { kind: 'replaced', database: sideName(c.name, 'previous') });
    },
  },
  {
    name: 'backup',
    done: async (c) => finalBackup(c) !== undefined || !(await databaseExists((await server(c)).admin, c.name)),
    run: async (c) => backupOn(c.cfg, c.reg, await server(c), c.name, { kind: 'final' }),
  },
  {
    name: 'drop-database',
    run: async (c) => dropDatabase((await server(c)).admin, c.name, { adopt: await adoptDatabase(c) }),
  },
  {
    name: 'drop-side',
    async run(c) {
      for (const side of SIDES) await dropSide((await server(c)).admin, c.name, side);
    },
  },
  {
    name: 'drop-role',
    async run(c) {
      await dropDumpRole((await server(c)).admin, c.name);
      await dropRole((await server(c)).admin, c.name, { adopt: entryOf(c).removal?.from === 'provisioning' });
    },
  },
  {
    name: 'forget-secret',
    run(c) {
      removeSecret(c.paths.tenantPassword(c.name));
      removeSecret(c.paths.dumpPassword(c.name));
    },
  },
  {
    name: 'remove-os-user',
    done: (c) => tenantUser(c.cfg, c.name) === undefined,
    run: (c) => removeTenantUser(c.cfg, c.name),
  },
  {
    name: 'unregister',
    run(c) {
      delete c.reg.tenants[c.name];
      save(c);
    },
  },
];

/** Steps after which something is gone: a failure before the first of them changed nothing lasting. */
const DROPS = new Set(['drop-database', 'drop-side', 'drop-role', 'forget-secret', 'remove-os-user', 'unregister']);

/**
 * A removal that failed before dropping anything: the tenant is recorded as it was and
 * create's steps bring back its CPU group, worker and route. Returns what went wrong
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
  return onTenant(cfg, name, { registryLock: true }, async (op) => {
    const c: RemoveContext = { cfg, name, paths: op.paths, reg: op.reg, entry: op.entry!, live: await stackIsUp(), op };
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
    return backup ? { name, backup: backup.file, backupBytes: backup.bytes } : { name };
  });
}
