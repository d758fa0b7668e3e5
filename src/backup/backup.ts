/**
 * `silo tenant backup <name>` and `silo backup --all`: a pg_dump (custom format) of a
 * tenant's database, run as the tenant's dump role (never a superuser), into $SILO_HOME/backups/<name>/, hashed while it is written, then
 * recorded in the manifest (see backup/manifest.ts). A backup reads a snapshot: the
 * tenant keeps serving. `--all` backs up tenants a few at a time (the loop over tenants,
 * servers/fleet.ts), goes on past a failure and reports each one.
 */
import { renameSync, rmSync } from 'node:fs';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, tenantEntry, type Registry, type TenantEntry } from '../registry/registry.js';
import { openServer, type OpenServer } from '../servers/servers.js';
import { dumpCredentials } from '../servers/tenant-credentials.js';
import { databaseExists } from '../postgres/tenant-ddl.js';
import { dumpToFile, findPgDump } from '../postgres/pg-dump.js';
import { SchemaTableChanged, schemaVersion, withTenantSession } from '../postgres/tenant-session.js';
import { newDumpFile, prune, recordAttempt, sweepPartial, writeEntry, type BackupEntry, type BackupKind } from './manifest.js';
import { ensureDatabaseRules } from '../servers/database-rules.js';
import { runSteps, type Step } from '../common/steps.js';
import { audited } from '../events/audit.js';
import { emit } from '../events/emit.js';
import { SiloError } from '../common/errors.js';
import { withTenantLock } from '../registry/tenant-lock.js';
import { overTenants, readyTenants, type OnResult } from '../servers/fleet.js';

export interface BackupOptions {
  kind?: BackupKind;
  /** keep only the newest n backups of this tenant afterwards */
  keep?: number;
  /** the database to dump, when not the tenant's own (remove: what a restore replaced) */
  database?: string;
}

export async function serverMajor(server: OpenServer): Promise<number> {
  const [v] = await server.admin<{ major: number }[]>`select current_setting('server_version_num')::int / 10000 as major`;
  return v!.major;
}

interface BackupCtx {
  cfg: SiloConfig;
  reg: Registry;
  name: string;
  /** the database dumped: the tenant's, or one of its side databases */
  database: string;
  tenant: TenantEntry;
  server: OpenServer;
  kind: BackupKind;
  keep?: number;
  file: string;
  startedAt: Date;
  schemaVersion: number | null;
  entry?: BackupEntry;
}

const steps: Step<BackupCtx>[] = [
  {
    name: 'check-database',
    async run(c) {
      if (!(await databaseExists(c.server.admin, c.database))) throw new SiloError(`tenant "${c.name}" has no database${c.database === c.name ? '' : ` "${c.database}"`} on server "${c.server.name}" (see silo tenant repair)`);
    },
  },
  {
    // Its dump role and what it may read: made here for a tenant an older silo created.
    name: 'database-rules',
    run: async (c) => void (await ensureDatabaseRules(c.cfg, c.reg, c.server, c.name)),
  },
  {
    name: 'read-schema-version',
    async run(c) {
      // As its dump role, in a pinned session (never the server's admin: invariant 11). A
      // tenant that replaced silo's table still gets its backup, of unknown version.
      c.schemaVersion = await withTenantSession({ ...dumpCredentials(c.cfg, c.reg, c.name, c.server.name), database: c.database }, schemaVersion).catch((err: Error) => {
        if (err instanceof SchemaTableChanged) return null;
        throw err;
      });
    },
  },
  {
    name: 'sweep-interrupted',
    async run(c) {
      sweepPartial(c.cfg.home, c.name, c.file);
    },
  },
  {
    name: 'dump',
    async run(c) {
      const partial = `${c.file}.partial`;
      rmSync(partial, { force: true });
      const pgDump = await findPgDump(await serverMajor(c.server));
      try {
        const digest = await dumpToFile(pgDump, { ...dumpCredentials(c.cfg, c.reg, c.name, c.server.name), database: c.database }, partial);
        renameSync(partial, c.file);
        c.entry = {
          tenant: c.name,
          file: c.file,
          kind: c.kind,
          server: c.server.name,
          schemaVersion: c.schemaVersion,
          ...digest,
          startedAt: c.startedAt.toISOString(),
          finishedAt: new Date().toISOString(),
          domains: c.tenant.domains,
          ...(c.tenant.maxMemory ? { maxMemory: c.tenant.maxMemory } : {}),
        };
      } catch (err) {
        rmSync(partial, { force: true });
        throw new SiloError((err as Error).message);
      }
    },
  },
  {
    name: 'record',
    async run(c) {
      writeEntry(c.entry!);
    },
  },
  {
    name: 'prune',
    async run(c) {
      if (c.keep !== undefined) prune(c.cfg.home, c.name, c.keep);
    },
  },
];

/** Back up one tenant whose server is already open (remove, restore and --all share one). */
export async function backupOn(cfg: SiloConfig, reg: Registry, server: OpenServer, name: string, opts: BackupOptions = {}): Promise<BackupEntry> {
  const tenant = tenantEntry(reg, name);
  const startedAt = new Date();
  const ctx: BackupCtx = { cfg, reg, name, database: opts.database ?? name, tenant, server, kind: opts.kind ?? 'manual', keep: opts.keep, file: newDumpFile(cfg.home, name, startedAt), startedAt, schemaVersion: 0 };
  // Its own database's last attempt, failed or not (the metrics' backup result).
  const attempt = (ok: boolean) => opts.database === undefined && recordAttempt(cfg.home, name, { ok, at: new Date().toISOString() });
  try {
    await runSteps('backup', steps, ctx);
  } catch (err) {
    try {
      attempt(false);
    } catch {
      // the failure itself is what the caller reports
    }
    emit(cfg, 'backup.failed', { tenant: name, kind: ctx.kind, error: (err as Error).message.split('\n')[0] });
    throw err;
  }
  attempt(true);
  return ctx.entry!;
}

export function backupTenant(cfg: SiloConfig, name: string, opts: BackupOptions = {}): Promise<BackupEntry> {
  return audited(cfg, 'tenant.backup', name, async () => {
    tenantEntry(readRegistry(homePaths(cfg.home).registry), name);
    // Under the tenant's lock (no restore, move or remove of it meanwhile), from the registry as it is then.
    return withTenantLock(cfg.home, name, async () => {
      const reg = readRegistry(homePaths(cfg.home).registry);
      const server = await openServer(cfg, reg, tenantEntry(reg, name).server);
      try {
        return await backupOn(cfg, reg, server, name, opts);
      } finally {
        await server.release();
      }
    });
  });
}

export interface BackupResult {
  tenant: string;
  ok: boolean;
  entry?: BackupEntry;
  error?: string;
}

export interface BackupAllOptions extends BackupOptions {
  concurrency?: number;
  onResult?: OnResult<BackupResult>;
}

/** Every ready tenant, `concurrency` at a time (servers/fleet.ts); a failure is reported and the rest go on. */
export function backupAll(cfg: SiloConfig, opts: BackupAllOptions = {}): Promise<BackupResult[]> {
  return audited(cfg, 'backup.all', undefined, () => backupEvery(cfg, opts));
}

async function backupEvery(cfg: SiloConfig, opts: BackupAllOptions): Promise<BackupResult[]> {
  const names = readyTenants(readRegistry(homePaths(cfg.home).registry));
  return overTenants<BackupResult>(cfg, names, { concurrency: opts.concurrency ?? 2, onResult: opts.onResult }, (tenant, shared) =>
    // Under the tenant's lock, from the registry as it is then (no restore or move meanwhile).
    withTenantLock(cfg.home, tenant, async () => {
      const reg = readRegistry(homePaths(cfg.home).registry);
      return { tenant, ok: true, entry: await backupOn(cfg, reg, await shared(tenantEntry(reg, tenant).server), tenant, opts) };
    }),
  );
}
