/**
 * `silo tenant remove`: one ordered list of idempotent steps (see steps.ts), run under
 * the registry lock. Nothing is dropped without a backup, and a removal interrupted
 * anywhere is finished by running the same command again, which takes no second backup.
 *
 *   mark-removing  record it as `removing` (from then on nothing renders a worker or a
 *                  route for it), and when this removal started
 *   unroute        if the stack is up: render the proxy config without it, reload, and
 *                  wait until its host answers 404
 *   stop-worker    delete its PM2 app
 *   remove-cpu-group  its CPU group, if cgroups are in use
 *   backup         a `final` backup of its database (see backup.ts), unless this removal
 *                  already made one (a re-run makes no second one)
 *   drop-database  drop its database
 *   drop-role      drop its dump role and its role
 *   forget-secret  delete its password files
 *   remove-os-user under root: remove its Unix user (only one silo made for it)
 *   unregister     delete it from the registry
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths, type HomePaths } from '../common/paths.js';
import { readRegistry, withRegistryLock, writeRegistry, type Registry, type TenantEntry } from '../registry/registry.js';
import { openServer, type OpenServer } from '../servers/servers.js';
import { removeSecret } from '../common/secrets.js';
import { databaseExists, dropDatabase, dropDumpRole, dropRole, ownedBy } from '../postgres/tenant-ddl.js';
import { listBackups, type BackupEntry } from '../backup/manifest.js';
import { backupOn } from '../backup/backup.js';
import { SiloError } from '../common/errors.js';
import { runSteps, type Step } from '../common/steps.js';
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
  server?: OpenServer;
}

const entryOf = (c: RemoveContext): TenantEntry => c.entry;
const save = (c: RemoveContext) => writeRegistry(c.paths.registry, c.reg);

/** The final backup this removal made, if it made one. */
function finalBackup(c: RemoveContext): BackupEntry | undefined {
  const since = entryOf(c).removal!.startedAt;
  return listBackups(c.cfg.home, c.name).find((b) => b.kind === 'final' && b.startedAt >= since);
}

async function server(c: RemoveContext): Promise<OpenServer> {
  c.server ??= await openServer(c.cfg, c.reg, entryOf(c).server);
  return c.server;
}

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
    name: 'backup',
    done: async (c) => finalBackup(c) !== undefined || !(await databaseExists((await server(c)).admin, c.name)),
    run: async (c) => backupOn(c.cfg, c.reg, await server(c), c.name, { kind: 'final' }),
  },
  {
    name: 'drop-database',
    run: async (c) => dropDatabase((await server(c)).admin, c.name, { adopt: await adoptDatabase(c) }),
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

export async function removeTenant(cfg: SiloConfig, name: string): Promise<RemoveResult> {
  const paths = homePaths(cfg.home);
  return withRegistryLock(paths.registry, async () => {
    const reg = readRegistry(paths.registry);
    if (!reg.tenants[name]) throw new SiloError(`no tenant named "${String(name).slice(0, 40)}"`);
    const c: RemoveContext = { cfg, name, paths, reg, entry: reg.tenants[name]!, live: await stackIsUp() };
    try {
      await runSteps('remove', removeSteps, c);
    } finally {
      await c.server?.release();
    }
    const backup = finalBackup(c);
    return backup ? { name, backup: backup.file, backupBytes: backup.bytes } : { name };
  });
}
