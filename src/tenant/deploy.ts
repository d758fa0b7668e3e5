/**
 * `silo deploy <app> [--tenant <name>...|--all]`: put tenants on a new release of the app,
 * one tenant at a time in its own right (a few at once), so a canary can go to one tenant
 * and a failure stays with the tenant it happened to.
 *
 * Once: register the release (snapshot, hash, check: src/apps/releases.ts); a broken app
 * stops here, before any tenant is touched. Then, each under its tenant's lock (operation.ts),
 * for each tenant:
 *
 *   check-schema   its database is not ahead of the release (forward-only migrations)
 *   migrate        apply the release's migrations, as the tenant's role; a failing
 *                  migration rolls back and leaves the tenant on its release, serving
 *   switch-worker  if its worker runs: reload it onto the release (the new process is
 *                  ready before the old one stops), and wait for /readyz; if it is not
 *                  ready, it is reloaded back onto its previous release and this fails.
 *                  One worker switches at a time, as `silo reload` does: two new
 *                  processes booting at once on a small machine slowed the handover
 *                  enough for the proxy to answer one request 502 (measured, 2 cores)
 *   record         the registry: its release (and the one before, for rollback) and schema
 *
 * The switch and the record hold the registry lock, so `up` and `reload` (which render
 * workers from the registry) never see a worker half-way between two releases.
 *
 * Every step is idempotent: re-running the same deploy finishes what a crash left.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths, type HomePaths } from '../common/paths.js';
import { readRegistry, tenantEntry, updateRegistry, withRegistryLock, type Registry } from '../registry/registry.js';
import type { OpenServer } from '../servers/servers.js';
import { connectAs, schemaVersion, withTenantSession } from '../postgres/tenant-session.js';
import { migrate } from '../migrate/run.js';
import { loadMigrations, type Migration } from '../migrate/files.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { describeRelease, readRelease, registerRelease, type Release } from '../apps/releases.js';
import { SiloError } from '../common/errors.js';
import { runSteps, type Step } from '../common/steps.js';
import { onTenant } from './operation.js';
import { overTenants, readyTenants, type OnResult } from '../servers/fleet.js';
import { switchWorker, workerRunsRelease } from './switch-app.js';
import { emit } from '../events/emit.js';

export interface DeployTarget {
  tenants?: string[];
  all?: boolean;
}

export interface TenantDeploy {
  tenant: string;
  ok: boolean;
  /** what it ran before (a release label, or "the stack's app") */
  from: string;
  /** it was on this release already (a re-run, or the canary of a later --all) */
  unchanged?: boolean;
  schemaFrom?: number;
  schemaTo?: number;
  /** how long the worker switch took (undefined: its worker does not run) */
  switchMs?: number;
  error?: string;
}

export interface DeployResult {
  release: Release;
  label: string;
  tenants: TenantDeploy[];
}

interface DeployContext {
  cfg: SiloConfig;
  paths: HomePaths;
  reg: Registry;
  name: string;
  release: Release;
  migrations: Migration[];
  server: OpenServer;
  result: TenantDeploy;
  /** runs worker switches one at a time across the tenants being deployed */
  oneAtATime: <T>(fn: () => Promise<T>) => Promise<T>;
}

function serial(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

const entryOf = (c: DeployContext) => c.reg.tenants[c.name]!;

async function withTenantSql<T>(c: DeployContext, fn: (sql: ReturnType<typeof connectAs>) => Promise<T>): Promise<T> {
  const sql = connectAs(tenantCredentials(c.cfg, c.reg, c.name));
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export const deploySteps: readonly Step<DeployContext>[] = [
  {
    name: 'check-schema',
    async run(c) {
      const version = await withTenantSession(tenantCredentials(c.cfg, c.reg, c.name), schemaVersion);
      c.result.schemaFrom = version;
      if (version > c.release.latestMigration) {
        throw new SiloError(`its database is at schema version ${version}, ahead of this release (${c.release.latestMigration}); migrations are forward-only`);
      }
    },
  },
  {
    name: 'migrate',
    async run(c) {
      try {
        c.result.schemaTo = (await withTenantSql(c, (sql) => migrate(sql, c.migrations))).to;
      } catch (err) {
        throw new SiloError(`migration failed: ${(err as Error).message.split('\n')[0]}`);
      }
    },
  },
  {
    name: 'switch-worker',
    done: async (c) => workerRunsRelease(c.cfg, c.reg, c.name, { id: c.release.id }),
    async run(c) {
      c.result.switchMs = await c.oneAtATime(() => withRegistryLock(c.paths.registry, () => switchWorker(c.cfg, c.reg, c.name, { id: c.release.id }, describeRelease(c.release))));
    },
  },
  {
    name: 'record',
    done: (c) => entryOf(c).release?.id === c.release.id && entryOf(c).schemaVersion === c.result.schemaTo,
    async run(c) {
      c.reg = await updateRegistry(c.paths.registry, (reg) => {
        const entry = tenantEntry(reg, c.name);
        if (entry.release?.id !== c.release.id) entry.release = { id: c.release.id, previous: entry.release?.id ?? null };
        if (c.result.schemaTo !== undefined) entry.schemaVersion = c.result.schemaTo;
        return reg;
      });
    },
  },
];

/** "notes@1.0.0 (3f2a...)", or "the stack's app" for a tenant that never had a release. */
export function releaseLabel(cfg: SiloConfig, id: string | undefined): string {
  if (!id) return "the stack's app";
  try {
    return describeRelease(readRelease(cfg, id));
  } catch {
    return id;
  }
}

function pickTenants(reg: Registry, target: DeployTarget): string[] {
  if (target.all) return readyTenants(reg);
  if (!target.tenants?.length) throw new SiloError('say which tenants: --tenant <name> (repeatable) or --all');
  for (const name of target.tenants) {
    const t = tenantEntry(reg, name);
    if (t.state !== 'ready') throw new SiloError(`tenant "${name}" is ${t.state}, not ready: finish or remove it first`);
  }
  return [...new Set(target.tenants)];
}

export async function deploy(
  cfg: SiloConfig,
  app: string,
  target: DeployTarget,
  onResult?: OnResult<TenantDeploy>,
): Promise<DeployResult> {
  const paths = homePaths(cfg.home);
  pickTenants(readRegistry(paths.registry), target); // bad arguments fail before the snapshot
  const release = await registerRelease(cfg, app);
  const label = describeRelease(release);
  const migrations = loadMigrations(release.migrationsDir);

  const names = pickTenants(readRegistry(paths.registry), target);
  const oneAtATime = serial();
  const tenants = await overTenants(cfg, names, { concurrency: cfg.migrateConcurrency, onResult }, async (name, shared) => {
    const result: TenantDeploy = { tenant: name, ok: false, from: '' };
    try {
      await onTenant(cfg, name, { what: 'tenant.deploy', details: { release: label }, shared }, async (op) => {
        const entry = op.entry!;
        const before = entry.release?.id;
        Object.assign(result, { from: releaseLabel(cfg, before) }, before === release.id ? { unchanged: true } : {});
        if (entry.state !== 'ready') throw new SiloError(`tenant "${name}" is ${entry.state}, not ready: finish or remove it first`);
        await runSteps('deploy', deploySteps, { cfg, paths, reg: op.reg, name, release, migrations, server: await op.server(), result, oneAtATime });
        if (!result.unchanged) emit(cfg, 'tenant.deployed', { tenant: name, release: label, from: result.from });
      });
      result.ok = true;
    } catch (err) {
      // It stays on what it ran before (`from`), serving.
      result.error = (err as Error).message;
    }
    return result;
  });
  return { release, label, tenants };
}
