/**
 * `silo tenant backup <name>` and `silo backup --all`: a pg_dump (custom format) of a
 * tenant's database, run as the tenant's dump role (never a superuser), into $SILO_HOME/backups/<name>/, hashed while it is written, then
 * recorded in the manifest (see backup/manifest.ts). A backup reads a snapshot: the
 * tenant keeps serving. `--all` backs up tenants a few at a time, goes on past a failure
 * and reports each one.
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
import { newDumpFile, prune, sweepPartial, writeEntry, type BackupEntry, type BackupKind } from './manifest.js';
import { mapLimit } from '../common/map-limit.js';
import { ensureDatabaseRules } from '../servers/database-rules.js';
import { runSteps, type Step } from '../common/steps.js';
import { SiloError } from '../common/errors.js';
import { withTenantLock } from '../registry/tenant-lock.js';

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
  await runSteps('backup', steps, ctx);
  return ctx.entry!;
}

export async function backupTenant(cfg: SiloConfig, name: string, opts: BackupOptions = {}): Promise<BackupEntry> {
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
}

export interface BackupResult {
  tenant: string;
  ok: boolean;
  entry?: BackupEntry;
  error?: string;
}

export interface BackupAllOptions extends BackupOptions {
  concurrency?: number;
  onResult?: (r: BackupResult, done: number, total: number) => void;
}

/** Every tenant, `concurrency` at a time; a failure is reported and the rest go on. */
export async function backupAll(cfg: SiloConfig, opts: BackupAllOptions = {}): Promise<BackupResult[]> {
  const reg = readRegistry(homePaths(cfg.home).registry);
  const names = Object.keys(reg.tenants).filter((n) => reg.tenants[n]!.state === 'ready').sort();
  const servers = new Map<string, OpenServer | Error>();
  for (const s of new Set(names.map((n) => reg.tenants[n]!.server))) {
    servers.set(s, await openServer(cfg, reg, s).catch((err: Error) => err));
  }
  let done = 0;
  try {
    return await mapLimit(names, opts.concurrency ?? 2, async (tenant) => {
      const server = servers.get(reg.tenants[tenant]!.server)!;
      let r: BackupResult;
      try {
        if (server instanceof Error) throw server;
        // Under the tenant's lock, from the registry as it is then (no restore or move meanwhile).
        const entry = await withTenantLock(cfg.home, tenant, () => backupOn(cfg, readRegistry(homePaths(cfg.home).registry), server, tenant, opts));
        r = { tenant, ok: true, entry };
      } catch (err) {
        r = { tenant, ok: false, error: (err as Error).message };
      }
      opts.onResult?.(r, ++done, names.length);
      return r;
    });
  } finally {
    for (const s of servers.values()) if (!(s instanceof Error)) await s.release();
  }
}
