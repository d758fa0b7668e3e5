/**
 * `silo migrate`: apply pending migrations to every tenant database, each through its
 * own role, with bounded concurrency. One failing tenant does not stop the others;
 * the result names every failure.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry, tenantEntry, updateRegistry } from '../registry/registry.js';
import { connectAs } from '../postgres/tenant-session.js';
import { migrate } from '../migrate/run.js';
import { loadAppMigrations } from '../apps/app-migrations.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { crashPoint } from '../common/steps.js';
import { onTenant } from './operation.js';
import { overTenants, readyTenants, type OnResult } from '../servers/fleet.js';

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
  onResult?: OnResult<TenantMigration>;
}

export async function migrateTenants(cfg: SiloConfig, opts: MigrateOptions = {}): Promise<TenantMigration[]> {
  const paths = homePaths(cfg.home);
  const reg = readRegistry(paths.registry);
  let names = readyTenants(reg);
  if (opts.tenant) {
    tenantEntry(reg, opts.tenant);
    names = [opts.tenant];
  }
  // Each tenant follows the migrations of the app it runs (its release, or the stack's).
  const migrations = new Map(await Promise.all(names.map(async (n) => [n, await loadAppMigrations(cfg, reg.tenants[n])] as const)));

  const results = await overTenants<TenantMigration>(cfg, names, { concurrency: opts.concurrency ?? cfg.migrateConcurrency, onResult: opts.onResult }, (tenant, shared) =>
    // Under the tenant's lock (no restore, move or deploy of it meanwhile), with its
    // credentials as the registry holds them then; its server up (started if the stack is down).
    onTenant(cfg, tenant, { what: 'tenant.migrate', shared }, async (op) => {
      await op.server();
      const sql = connectAs(tenantCredentials(cfg, op.reg, tenant));
      try {
        crashPoint('migrate', 'migrate-tenant');
        const { from, to } = await migrate(sql, migrations.get(tenant)!);
        return { tenant, ok: true, from, to };
      } finally {
        await sql.end({ timeout: 5 });
      }
    }),
  );
  crashPoint('migrate', 'record-versions');
  await updateRegistry(paths.registry, (latest) => {
    for (const r of results) {
      const t = latest.tenants[r.tenant];
      if (r.ok && t && r.to !== undefined) t.schemaVersion = r.to;
    }
  });
  return results;
}
