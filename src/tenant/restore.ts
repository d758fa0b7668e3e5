/**
 * `silo tenant restore <name> (--latest | --from <file>) --yes`: bring a tenant's data
 * back from one of its backups. The dump is restored into a fresh database beside the
 * live one while the tenant keeps serving; the tenant is suspended only for the swap
 * (one transaction of two renames). What it replaced stays as `<name>_previous` until
 * `--discard-previous` or the next restore. A removed tenant comes back from its final
 * dump: role, database, registry entry, worker and route. It holds the tenant's lock
 * throughout (operation.ts): no move, remove or deploy of the tenant runs meanwhile.
 *
 *   resolve-backup      the manifest entry of --latest or --from
 *   verify-checksum     bytes and sha256 as recorded, or nothing is touched
 *   ensure-tenant       re-create a removed tenant (create: role, empty database,
 *                       registry, worker, route; the database is replaced below)
 *   open-server
 *   reopen-live         a crashed earlier swap may have left it closed
 *   create-side         <name>_restore, owned by the tenant role, server catalogs hidden,
 *                       its dump role able to read it (database-rules.ts)
 *   pg-restore          as the tenant role, one transaction
 *   check-restored      schema version known to this app (read as the tenant role in a
 *                       pinned session; migrated forward if older, as the tenant role)
 *   suspend             the proxy answers 503 + Retry-After
 *   swap                close the live database, rename both in one transaction
 *   resume
 *   record              schema version in the registry
 *   bring-back          a removed tenant: the empty stand-in made by ensure-tenant goes
 *   discard-previous    with --discard-previous
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, updateRegistry, type Registry } from '../registry/registry.js';
import type { OpenServer } from '../servers/servers.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { connectAs, schemaVersion, withTenantSession } from '../postgres/tenant-session.js';
import { digestFile, findPgDump, restoreDatabase } from '../postgres/pg-dump.js';
import { allowsConnections, closeDatabase, createSide, dropSide, setAllowConnections, sideExists, sideName, swapIn } from '../postgres/side-database.js';
import { migrate } from '../migrate/run.js';
import { ensureDatabaseRules } from '../servers/database-rules.js';
import { listBackups, readEntry, type BackupEntry } from '../backup/manifest.js';
import { loadAppMigrations } from '../apps/app-migrations.js';
import { createTenant } from './create.js';
import { resumeTenant, suspendTenant } from './suspend.js';
import { serverMajor } from '../backup/backup.js';
import { runSteps, type Step } from '../common/steps.js';
import { onTenant, type TenantOperation } from './operation.js';
import { timed } from './steps-timing.js';
import { SiloError } from '../common/errors.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { emit } from '../events/emit.js';

export interface RestoreOptions {
  latest?: boolean;
  from?: string;
  discardPrevious?: boolean;
  log?: (line: string) => void;
}

export interface RestoreResult {
  name: string;
  backup?: BackupEntry;
  schemaVersion?: number;
  /** the tenant had been removed and is back */
  broughtBack: boolean;
  previousKept: boolean;
  /** ms during which the proxy answered the tenant's hosts 503 */
  suspendedMs?: number;
  /** ms per step that acted */
  stepMs: Record<string, number>;
}

interface Ctx {
  cfg: SiloConfig;
  /** ms each step that acted took */
  stepMs: Record<string, number>;
  name: string;
  opts: RestoreOptions;
  entry?: BackupEntry;
  reg?: Registry;
  server?: OpenServer;
  broughtBack: boolean;
  schemaVersion?: number;
  suspendedAt?: number;
  suspendedMs?: number;
  /** an interrupted run of this restore already swapped */
  swapped: boolean;
  log: (line: string) => void;
  op: TenantOperation;
}

const steps: Step<Ctx>[] = [
  {
    name: 'resolve-backup',
    async run(c) {
      if (c.opts.from) {
        const file = resolve(c.opts.from);
        if (!existsSync(file)) throw new SiloError(`no such file: ${c.opts.from}`);
        c.entry = readEntry(file);
        if (!c.entry) throw new SiloError(`${c.opts.from} has no manifest entry beside it (silo restores only backups it recorded, so it can check them)`);
        if (c.entry.tenant !== c.name) throw new SiloError(`${c.opts.from} is a backup of "${c.entry.tenant}", not of "${c.name}"`);
      } else {
        c.entry = listBackups(c.cfg.home, c.name)[0];
        if (!c.entry) throw new SiloError(`no backups of "${c.name}" (silo backup list)`);
      }
      if (!existsSync(c.entry.file)) throw new SiloError(`the backup file ${c.entry.file} is missing`);
    },
  },
  {
    name: 'verify-checksum',
    async run(c) {
      const d = await digestFile(c.entry!.file);
      if (d.bytes !== c.entry!.bytes || d.sha256 !== c.entry!.sha256) {
        throw new SiloError(
          `${c.entry!.file} does not match its manifest entry (${d.bytes} bytes, sha256 ${d.sha256.slice(0, 12)}…; recorded ${c.entry!.bytes} bytes, ${c.entry!.sha256.slice(0, 12)}…): refusing to restore it; nothing was changed`,
        );
      }
    },
  },
  {
    name: 'ensure-tenant',
    async run(c) {
      const reg = readRegistry(homePaths(c.cfg.home).registry);
      const t = reg.tenants[c.name];
      if (t?.state === 'ready') return;
      // Removed (or its creation never finished): make it again, then restore over it.
      const server = reg.servers[c.entry!.server] ? c.entry!.server : undefined;
      await createTenant(c.cfg, c.name, { domains: c.entry!.domains, server, maxMemory: c.entry!.maxMemory });
      c.broughtBack = !t;
      c.log(`re-created tenant ${c.name} to restore into`);
    },
  },
  {
    name: 'open-server',
    async run(c) {
      c.reg = c.op.refresh();
      c.server = await c.op.server();
      // A restore that swapped and died before resuming: suspended by a restore, the
      // restored database in place (no <name>_restore left), what it replaced kept. Running
      // it again finishes that one (and keeps what it replaced) instead of restoring anew.
      const admin = c.server.admin;
      c.swapped = c.reg.tenants[c.name]!.suspended?.by === 'restore' && !(await sideExists(admin, c.name, 'restore')) && (await sideExists(admin, c.name, 'previous'));
      if (c.swapped) c.log('finishing the restore that was interrupted after its swap');
    },
  },
  {
    name: 'reopen-live',
    async run(c) {
      if ((await allowsConnections(c.server!.admin, c.name)) === false) await setAllowConnections(c.server!.admin, c.name, true);
    },
  },
  {
    name: 'create-side',
    done: (c) => c.swapped,
    async run(c) {
      await createSide(c.server!.admin, c.name, 'restore');
      await ensureDatabaseRules(c.cfg, c.reg!, c.server!, c.name, sideName(c.name, 'restore'));
    },
  },
  {
    name: 'pg-restore',
    done: (c) => c.swapped,
    async run(c) {
      const pgRestore = await findPgDump(await serverMajor(c.server!), 'pg_restore');
      const own = tenantCredentials(c.cfg, c.reg!, c.name);
      try {
        await restoreDatabase(pgRestore, { ...own, database: sideName(c.name, 'restore') }, c.entry!.file);
      } catch (err) {
        await dropSide(c.server!.admin, c.name, 'restore').catch(() => undefined);
        throw new SiloError(`${(err as Error).message}; the live database was not touched`);
      }
    },
  },
  {
    name: 'check-restored',
    done: (c) => c.swapped,
    async run(c) {
      const migrations = await loadAppMigrations(c.cfg, c.reg?.tenants[c.name]);
      const known = Math.max(0, ...migrations.map((m) => m.version));
      const login = { ...tenantCredentials(c.cfg, c.reg!, c.name), database: sideName(c.name, 'restore') };
      const version = await withTenantSession(login, schemaVersion);
      if (version > known) {
        throw new SiloError(`the backup is at schema version ${version}, newer than this app's migrations (${known}): deploy the matching app first; the live database was not touched`);
      }
      c.schemaVersion = version;
      if (version < known) {
        const sql = connectAs(login);
        try {
          c.schemaVersion = (await migrate(sql, migrations)).to;
        } finally {
          await sql.end({ timeout: 5 });
        }
        c.log(`migrated the restored database ${version} -> ${c.schemaVersion}`);
      }
    },
  },
  {
    name: 'suspend',
    done: (c) => c.swapped,
    async run(c) {
      await suspendTenant(c.cfg, c.name, { by: 'restore' });
      c.suspendedAt = performance.now();
    },
  },
  {
    name: 'swap',
    done: (c) => c.swapped,
    async run(c) {
      const admin = c.server!.admin;
      await dropSide(admin, c.name, 'previous');
      await closeDatabase(admin, c.name);
      try {
        await swapIn(admin, c.name, 'restore');
      } catch (err) {
        await setAllowConnections(admin, c.name, true);
        await resumeTenant(c.cfg, c.name, 'restore');
        throw err;
      }
    },
  },
  {
    name: 'resume',
    async run(c) {
      await resumeTenant(c.cfg, c.name, 'restore');
      if (c.suspendedAt !== undefined) c.suspendedMs = performance.now() - c.suspendedAt;
    },
  },
  {
    name: 'record',
    async run(c) {
      await updateRegistry(homePaths(c.cfg.home).registry, (reg) => {
        const t = reg.tenants[c.name];
        if (t && c.schemaVersion !== undefined) t.schemaVersion = c.schemaVersion;
      });
    },
  },
  {
    name: 'bring-back',
    async run(c) {
      if (!c.broughtBack) return;
      await dropSide(c.server!.admin, c.name, 'previous'); // the empty stand-in made above
    },
  },
  {
    name: 'discard-previous',
    async run(c) {
      if (c.opts.discardPrevious) await dropSide(c.server!.admin, c.name, 'previous');
    },
  },
];

/**
 * Which of the two a restore request asks for: a restore (--latest or --from, not both),
 * or, with neither, dropping what the last restore replaced (--discard-previous alone).
 */
export function restoreChoice(opts: { latest?: boolean; from?: string; discardPrevious?: boolean }): 'restore' | 'discard-previous' {
  if (!opts.latest && !opts.from) {
    if (!opts.discardPrevious) throw new SiloError('say which backup: --latest or --from <file> (silo backup list --tenant <name>)');
    return 'discard-previous';
  }
  if (opts.latest && opts.from) throw new SiloError('--latest and --from exclude each other');
  return 'restore';
}

export async function restoreTenant(cfg: SiloConfig, name: string, opts: RestoreOptions): Promise<RestoreResult> {
  return onTenant(cfg, name, { what: 'tenant.restore', tenant: 'any' }, async (op) => {
    const ctx: Ctx = { cfg, stepMs: {}, name, opts, broughtBack: false, swapped: false, log: opts.log ?? (() => undefined), op };
    await runSteps('restore', timed(steps), ctx);
    const previousKept = !opts.discardPrevious && !ctx.broughtBack;
    emit(cfg, 'tenant.restored', { tenant: name, backup: ctx.entry?.file, schemaVersion: ctx.schemaVersion, broughtBack: ctx.broughtBack });
    return { name, backup: ctx.entry, schemaVersion: ctx.schemaVersion, broughtBack: ctx.broughtBack, previousKept, suspendedMs: ctx.suspendedMs, stepMs: ctx.stepMs };
  });
}

/** `restore <name> --discard-previous` alone: drop what the last restore replaced. */
export async function discardPrevious(cfg: SiloConfig, name: string): Promise<boolean> {
  return onTenant(cfg, name, { what: 'tenant.discard-previous' }, async (op) => dropSide((await op.server()).admin, name, 'previous'));
}
