/**
 * Creating a tenant, as an ordered list of idempotent steps. Each step checks before it
 * acts, and the registry records the tenant as `provisioning` before the first step, so
 * a crash anywhere leaves a state that re-running `silo tenant create` completes (or
 * `silo tenant remove` cleans up).
 *
 *   1. validate the name and domains          5. create the database, owned by it,
 *   2. take the registry lock                    and revoke CONNECT from PUBLIC
 *   3. place it on a server, allocate a port  6. migrate, connected as the tenant role
 *      and record it as `provisioning`        7. mark it `ready` in the registry
 *   4. write the password (0600), create or
 *      align the role
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { validateTenantName } from '../common/names.js';
import { readRegistry, withRegistryLock, writeRegistry, type Registry, type TenantEntry } from '../registry/registry.js';
import { ensureDefaultServer, placeTenant, withServer } from '../servers/servers.js';
import { allocatePort } from '../common/ports.js';
import { generatePassword, readSecret, writeSecret } from '../common/secrets.js';
import { ensureDatabase, ensureRole } from '../postgres/tenant-ddl.js';
import { connectAs } from '../postgres/admin.js';
import { migrate } from '../migrate/run.js';
import { loadAppMigrations } from './app-migrations.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { SiloError } from '../common/errors.js';

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

export interface CreateOptions {
  domains?: string[];
  server?: string;
  /** a memory ceiling for this tenant's worker, e.g. "300M" */
  maxMemory?: string;
}

const MEMORY = /^[1-9][0-9]*[KMG]$/;

export interface CreateResult {
  name: string;
  created: boolean;
  entry: TenantEntry;
}

export function tenantHosts(cfg: SiloConfig, name: string, entry: Pick<TenantEntry, 'domains'>): string[] {
  return [`${name}.${cfg.domain}`, ...entry.domains];
}

export function connectionLimit(cfg: SiloConfig): number {
  // A reload briefly runs the old and new worker side by side, plus a migration.
  return cfg.poolMax * 2 + 2;
}

function checkDomains(cfg: SiloConfig, reg: Registry, name: string, domains: string[]): string[] {
  const wanted = [...new Set(domains.map((d) => d.toLowerCase().replace(/\.$/, '')))];
  for (const d of wanted) {
    if (!HOSTNAME.test(d)) throw new SiloError(`invalid domain "${d.slice(0, 80)}"`);
    for (const [other, t] of Object.entries(reg.tenants)) {
      if (other !== name && tenantHosts(cfg, other, t).includes(d)) {
        throw new SiloError(`domain "${d}" already belongs to tenant "${other}"`);
      }
    }
  }
  return wanted;
}

export async function createTenant(cfg: SiloConfig, name: string, opts: CreateOptions = {}): Promise<CreateResult> {
  validateTenantName(name);
  const migrations = loadAppMigrations(cfg);
  const paths = homePaths(cfg.home);
  await ensureDefaultServer(cfg);

  return withRegistryLock(paths.registry, async () => {
    const reg = readRegistry(paths.registry);
    const existing = reg.tenants[name];
    if (opts.server && existing && existing.server !== opts.server) {
      throw new SiloError(`tenant "${name}" already lives on server "${existing.server}"`);
    }
    const domains = checkDomains(cfg, reg, name, opts.domains ?? existing?.domains ?? []);
    if (opts.maxMemory !== undefined && !MEMORY.test(opts.maxMemory)) {
      throw new SiloError(`invalid memory limit "${opts.maxMemory.slice(0, 20)}": use a number with K, M or G, e.g. 300M`);
    }
    if (existing?.state === 'ready') {
      // Re-running create with new settings updates them (the worker picks them up on reload).
      const changed = (opts.domains && domains.join() !== existing.domains.join()) || (opts.maxMemory && opts.maxMemory !== existing.maxMemory);
      if (changed) {
        if (opts.domains) existing.domains = domains;
        if (opts.maxMemory) existing.maxMemory = opts.maxMemory;
        writeRegistry(paths.registry, reg);
      }
      return { name, created: false, entry: existing };
    }

    const server = existing?.server ?? placeTenant(reg, opts.server);
    const takenPorts = Object.entries(reg.tenants).filter(([n]) => n !== name).map(([, t]) => t.port);
    const port = existing?.port ?? (await allocatePort(takenPorts, cfg.workerPortBase));
    const entry: TenantEntry = {
      server,
      port,
      domains,
      ...(opts.maxMemory ?? existing?.maxMemory ? { maxMemory: opts.maxMemory ?? existing?.maxMemory } : {}),
      state: 'provisioning',
      schemaVersion: 0,
      createdAt: existing?.createdAt ?? new Date().toISOString(),
    };
    reg.tenants[name] = entry;
    writeRegistry(paths.registry, reg);

    let password = readSecret(paths.tenantPassword(name));
    if (!password) {
      password = generatePassword();
      writeSecret(paths.tenantPassword(name), password);
    }

    await withServer(cfg, reg, server, async (s) => {
      await ensureRole(s.admin, name, password, { connectionLimit: connectionLimit(cfg) });
      await ensureDatabase(s.admin, name);
      const sql = connectAs(tenantCredentials(cfg, reg, name));
      try {
        entry.schemaVersion = (await migrate(sql, migrations)).to;
      } catch (err) {
        throw new SiloError(`migrating tenant "${name}" failed: ${(err as Error).message} (fix it, then run the same command again)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    });

    entry.state = 'ready';
    writeRegistry(paths.registry, reg);
    return { name, created: true, entry };
  });
}
