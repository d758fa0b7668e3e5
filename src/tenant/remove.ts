/**
 * `silo tenant remove`: one ordered list of idempotent steps (see steps.ts), run under
 * the registry lock. Nothing is dropped without a backup, and a removal interrupted
 * anywhere is finished by running the same command again, which takes no second backup.
 *
 *   mark-removing  record it as `removing` (from then on nothing renders a worker or a
 *                  route for it) and name the one backup file this removal makes
 *   unroute        if the stack is up: render the proxy config without it, reload, and
 *                  wait until its host answers 404
 *   stop-worker    delete its PM2 app
 *   backup         dump its database to backups/ (written aside, then renamed)
 *   drop-database  drop its database
 *   drop-role      drop its role
 *   forget-secret  delete its password file
 *   unregister     delete it from the registry
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SiloConfig } from '../common/config.js';
import { homePaths, type HomePaths } from '../common/paths.js';
import { readRegistry, withRegistryLock, writeRegistry, type Registry, type TenantEntry } from '../registry/registry.js';
import { adminUrl, openServer, parseUrl, type OpenServer } from '../servers/servers.js';
import { removeSecret } from '../common/secrets.js';
import { databaseExists, dropDatabase, dropRole, ownedBy } from '../postgres/tenant-ddl.js';
import { dumpDatabase, findPgDump } from '../postgres/pg-dump.js';
import { SiloError } from '../common/errors.js';
import { runSteps, type Step } from './steps.js';
import { primaryHost, removeWorker, stackIsUp, syncProxy, waitUnrouted } from '../stack/live.js';

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
const backupFile = (c: RemoveContext) => join(c.paths.backups, entryOf(c).removal!.backup);

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
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      entry.removal = { from: entry.state === 'provisioning' ? 'provisioning' : 'ready', startedAt: new Date().toISOString(), backup: `${c.name}-${stamp}.dump` };
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
    name: 'backup',
    done: async (c) => existsSync(backupFile(c)) || !(await databaseExists((await server(c)).admin, c.name)),
    async run(c) {
      const s = await server(c);
      const [v] = await s.admin<{ major: number }[]>`select current_setting('server_version_num')::int / 10000 as major`;
      const pgDump = await findPgDump(v!.major);
      mkdirSync(c.paths.backups, { recursive: true, mode: 0o700 });
      chmodSync(c.paths.backups, 0o700);
      const file = backupFile(c);
      const partial = `${file}.partial`;
      rmSync(partial, { force: true });
      closeSync(openSync(partial, 'w', 0o600)); // pg_dump keeps the mode of an existing file
      const { user, password } = parseUrl(adminUrl(c.cfg, entryOf(c).server));
      try {
        await dumpDatabase(pgDump, { host: s.entry.host, port: s.entry.port, user, password, database: c.name }, partial);
      } catch (err) {
        rmSync(partial, { force: true });
        throw new SiloError(`${(err as Error).message}; nothing was dropped`);
      }
      renameSync(partial, file);
    },
  },
  {
    name: 'drop-database',
    run: async (c) => dropDatabase((await server(c)).admin, c.name, { adopt: await adoptDatabase(c) }),
  },
  {
    name: 'drop-role',
    run: async (c) => dropRole((await server(c)).admin, c.name, { adopt: entryOf(c).removal?.from === 'provisioning' }),
  },
  {
    name: 'forget-secret',
    run: (c) => removeSecret(c.paths.tenantPassword(c.name)),
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
    const backup = backupFile(c);
    return existsSync(backup) ? { name, backup, backupBytes: statSync(backup).size } : { name };
  });
}
