/**
 * `silo migrate`: apply pending migrations to every tenant database, each through its
 * own role, with bounded concurrency. One failing tenant does not stop the others;
 * the result names every failure.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, tenantEntry, updateRegistry } from '../registry/registry.js';
import { openServer, type OpenServer } from '../servers/servers.js';
import { connectAs } from '../postgres/tenant-session.js';
import { migrate } from '../migrate/run.js';
import { loadAppMigrations } from '../apps/app-migrations.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { withTenantLock } from '../registry/tenant-lock.js';
import { crashPoint } from '../common/steps.js';
import { mapLimit } from '../common/map-limit.js';

export interface TenantMigration {
  tenant: string;
  ok: boolean;
  from?: number;
  to?: number;
  error?: string;
}

export interface MigrateOptions {
  tenant?: string;
  concurrency?: number;
  onResult?: (r: TenantMigration, done: number, total: number) => void;
}

export async function migrateTenants(cfg: SiloConfig, opts: MigrateOptions = {}): Promise<TenantMigration[]> {
  const paths = homePaths(cfg.home);
  const reg = readRegistry(paths.registry);
  let names = Object.keys(reg.tenants).filter((n) => reg.tenants[n]!.state === 'ready').sort();
  if (opts.tenant) {
    tenantEntry(reg, opts.tenant);
    names = [opts.tenant];
  }
  // Each tenant follows the migrations of the app it runs (its release, or the stack's).
  const migrations = new Map(await Promise.all(names.map(async (n) => [n, await loadAppMigrations(cfg, reg.tenants[n])] as const)));

  // Make sure each server involved is up (starting the embedded one if the stack is down).
  const servers = new Map<string, OpenServer | Error>();
  for (const server of new Set(names.map((n) => reg.tenants[n]!.server))) {
    try {
      servers.set(server, await openServer(cfg, reg, server));
    } catch (err) {
      servers.set(server, err as Error);
    }
  }

  let done = 0;
  try {
    const results = await mapLimit(names, opts.concurrency ?? cfg.migrateConcurrency, async (tenant) => {
      const server = servers.get(reg.tenants[tenant]!.server);
      let r: TenantMigration;
      if (server instanceof Error) {
        r = { tenant, ok: false, error: server.message };
      } else {
        // Under the tenant's lock (no restore, move or deploy of it meanwhile), with its
        // credentials as the registry holds them then.
        r = await withTenantLock(cfg.home, tenant, async (): Promise<TenantMigration> => {
          let sql: ReturnType<typeof connectAs> | undefined;
          try {
            sql = connectAs(tenantCredentials(cfg, readRegistry(paths.registry), tenant));
            crashPoint('migrate', 'migrate-tenant');
            const { from, to } = await migrate(sql, migrations.get(tenant)!);
            return { tenant, ok: true, from, to };
          } catch (err) {
            return { tenant, ok: false, error: (err as Error).message };
          } finally {
            await sql?.end({ timeout: 5 });
          }
        });
      }
      opts.onResult?.(r, ++done, names.length);
      return r;
    });
    crashPoint('migrate', 'record-versions');
    await updateRegistry(paths.registry, (latest) => {
      for (const r of results) {
        const t = latest.tenants[r.tenant];
        if (r.ok && t && r.to !== undefined) t.schemaVersion = r.to;
      }
    });
    return results;
  } finally {
    for (const s of servers.values()) if (!(s instanceof Error)) await s.release();
  }
}
