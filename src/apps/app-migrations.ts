/**
 * Which app a tenant runs, and so which migrations its database follows: its release
 * (`silo deploy`) if it has one, else the stack's app (SILO_APP, or the bundled polls
 * sample). The worker gets the same answer as its APP_MODULE (pm2/ecosystem.ts).
 */
import type { SiloConfig } from '../common/config.js';
import { projectFolder } from '../common/config.js';
import { loadMigrations, type Migration } from '../migrate/files.js';
import { resolveApp } from './resolve.js';
import { readRelease } from './releases.js';
import { loadApp } from './load-app.js';
import type { TenantEntry } from '../registry/registry.js';
import type { TenantApp } from '../contract/app-contract.js';
import { SiloError } from '../common/errors.js';

/** The stack app's entry module; undefined means the bundled sample. */
export function stackAppEntry(cfg: SiloConfig): string | undefined {
  return cfg.app ? resolveApp(cfg.app, projectFolder()).entry : undefined;
}

/** The entry module a tenant's worker imports. */
export function tenantAppEntry(cfg: SiloConfig, tenant?: Pick<TenantEntry, 'release'>): string | undefined {
  return tenant?.release ? readRelease(cfg, tenant.release.id).entry : stackAppEntry(cfg);
}

/** Import the stack app in this process (for its migrations folder and seed). */
export async function importStackApp(cfg: SiloConfig): Promise<TenantApp> {
  try {
    return await loadApp(stackAppEntry(cfg));
  } catch (err) {
    throw new SiloError(err instanceof SiloError ? err.message : `app ${cfg.app ?? 'polls'}: ${(err as Error).message}`);
  }
}

async function migrationsDirOf(cfg: SiloConfig, tenant?: Pick<TenantEntry, 'release'>): Promise<string> {
  if (tenant?.release) return readRelease(cfg, tenant.release.id).migrationsDir;
  return (await importStackApp(cfg)).migrationsDir;
}

/** The migrations of the app `tenant` runs (no tenant: the stack's app, for a new one). */
export async function loadAppMigrations(cfg: SiloConfig, tenant?: Pick<TenantEntry, 'release'>): Promise<Migration[]> {
  const dir = await migrationsDirOf(cfg, tenant);
  try {
    return loadMigrations(dir);
  } catch (err) {
    throw new SiloError(`cannot read migrations: ${(err as Error).message}`);
  }
}
