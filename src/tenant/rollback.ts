/**
 * `silo rollback <name>`: put a tenant back on the release it ran before its last deploy
 * (or on the stack's app, if that deploy was its first). Migrations are forward-only, so
 * this is allowed only while the tenant's database holds no migration the previous
 * release does not know; otherwise it says so and changes nothing.
 *
 *   check-schema   the database is not ahead of the previous release
 *   switch-worker  if its worker runs: reload it onto the previous release, wait for /readyz
 *   record         the registry: the previous release is its release again
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths, type HomePaths } from '../common/paths.js';
import { writeRegistry, type Registry, type TenantRelease } from '../registry/registry.js';
import { schemaVersion, withTenantSession } from '../postgres/tenant-session.js';
import { latestVersion } from '../migrate/pending.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { SiloError } from '../common/errors.js';
import { runSteps, type Step } from '../common/steps.js';
import { onTenant, type TenantOperation } from './operation.js';
import { loadAppMigrations } from '../apps/app-migrations.js';
import { switchWorker, workerRunsRelease } from './switch-app.js';
import { releaseLabel } from './deploy.js';
import { emit } from '../events/emit.js';

export interface RollbackResult {
  tenant: string;
  from: string;
  to: string;
  switchMs?: number;
}

interface RollbackContext {
  cfg: SiloConfig;
  paths: HomePaths;
  reg: Registry;
  name: string;
  /** where it goes: the previous release, or undefined for the stack's app */
  target: TenantRelease | undefined;
  /** the release it leaves */
  leaving: string;
  result: RollbackResult;
  op: TenantOperation;
}

const entryOf = (c: RollbackContext) => c.reg.tenants[c.name]!;
const isBack = (c: RollbackContext) => entryOf(c).release?.id === c.target?.id;

export const rollbackSteps: readonly Step<RollbackContext>[] = [
  {
    name: 'check-schema',
    done: isBack,
    async run(c) {
      const knows = latestVersion(await loadAppMigrations(c.cfg, c.target ? { release: c.target } : undefined));
      await c.op.server();
      const version = await withTenantSession(tenantCredentials(c.cfg, c.reg, c.name), schemaVersion);
      if (version > knows) {
        throw new SiloError(
          `cannot roll back ${c.name} to ${c.result.to}: its database is at schema version ${version}, which that release does not know (it ends at ${knows}); migrations are forward-only, so deploy a release that fixes the problem instead`,
        );
      }
    },
  },
  {
    name: 'switch-worker',
    done: async (c) => workerRunsRelease(c.cfg, c.reg, c.name, c.target),
    async run(c) {
      c.result.switchMs = await switchWorker(c.cfg, c.reg, c.name, c.target, c.result.to);
    },
  },
  {
    name: 'record',
    done: isBack,
    run(c) {
      const entry = entryOf(c);
      if (c.target) entry.release = { id: c.target.id };
      else delete entry.release;
      writeRegistry(c.paths.registry, c.reg);
    },
  },
];

export async function rollback(cfg: SiloConfig, name: string): Promise<RollbackResult> {
  const paths = homePaths(cfg.home);
  return onTenant(cfg, name, { what: 'tenant.rollback', registryLock: true }, async (op) => {
    const reg = op.reg;
    const entry = op.entry!;
    if (!entry.release) throw new SiloError(`tenant ${name} runs the stack's app and has no release to roll back from (silo deploy puts it on one)`);
    if (entry.release.previous === undefined) {
      throw new SiloError(`tenant ${name} has no previous release recorded (it was rolled back to this one already)`);
    }
    const target = entry.release.previous === null ? undefined : { id: entry.release.previous };
    const result: RollbackResult = { tenant: name, from: releaseLabel(cfg, entry.release.id), to: releaseLabel(cfg, target?.id) };
    await runSteps('rollback', rollbackSteps, { cfg, paths, reg, name, target, leaving: entry.release.id, result, op });
    emit(cfg, 'tenant.deployed', { tenant: name, release: result.to, from: result.from, rollback: true });
    return result;
  });
}
