/**
 * The operations the control API runs as jobs, each one call into the same function the
 * CLI command calls (src/tenant/, src/backup/): no second implementation. `check` is what
 * the request is refused on at once (400 for bad input, 404 for an unknown tenant), with
 * the same validation the CLI applies; `run` is the operation itself, run by a job and
 * run again, whole, if `control` restarts before it finished (each is an idempotent step
 * list, or a single idempotent call).
 */
import type { SiloConfig } from '../common/config.js';
import { SiloError, NotFoundError } from '../common/errors.js';
import { validateServerName, validateTenantName } from '../common/names.js';
import { createFromInput, parseCreateInput, type CreateInput } from '../tenant/create-input.js';
import { removeTenant } from '../tenant/remove.js';
import { knownTenant } from '../tenant/operation.js';
import { resumeTenant, suspendTenant } from '../tenant/suspend.js';
import { discardPrevious, restoreChoice, restoreTenant } from '../tenant/restore.js';
import { moveTenant } from '../tenant/move.js';
import { addDomain, checkDomain, removeDomain } from '../tenant/domain.js';
import { deploy } from '../tenant/deploy.js';
import { rollback } from '../tenant/rollback.js';
import { migrateTenants } from '../tenant/migrate.js';
import { sleepTenant, wakeTenant } from '../tenant/hibernate.js';
import { backupAll, backupTenant } from '../backup/backup.js';
import { listReleases } from '../apps/releases.js';

type Params = Record<string, unknown>;

export interface OperationDef {
  /** refuse bad input before a job exists; returns the tenant the operation acts on (none: the fleet) */
  check(cfg: SiloConfig, p: Params): string | undefined;
  run(cfg: SiloConfig, p: Params, attempt: number): Promise<unknown>;
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
const tenantOf = (p: Params) => validateTenantName(String(p.name));
const existing = (cfg: SiloConfig, p: Params) => {
  knownTenant(cfg, tenantOf(p));
  return String(p.name);
};

function createInput(p: Params): CreateInput {
  return {
    domains: Array.isArray(p.domains) ? p.domains.map(String) : undefined,
    server: str(p.server),
    maxMemory: str(p.maxMemory),
    rate: str(p.rate),
    cpu: str(p.cpu),
    pids: str(p.pids),
    dbSize: str(p.dbSize),
    hibernateAfter: str(p.hibernateAfter),
  };
}

export const OPERATIONS: Record<string, OperationDef> = {
  'tenant.create': {
    check(_cfg, p) {
      parseCreateInput(createInput(p));
      if (p.server !== undefined) validateServerName(String(p.server));
      return tenantOf(p);
    },
    run: (cfg, p) => createFromInput(cfg, String(p.name), createInput(p)),
  },
  'tenant.remove': {
    check: existing,
    async run(cfg, p, attempt) {
      try {
        return await removeTenant(cfg, String(p.name));
      } catch (err) {
        // Run again after `control` restarted: the first attempt may have finished it.
        if (attempt > 1 && err instanceof NotFoundError) return { name: p.name, removed: 'before the restart' };
        throw err;
      }
    },
  },
  'tenant.suspend': {
    check(cfg, p) {
      if (p.message !== undefined && (typeof p.message !== 'string' || p.message.length > 300)) throw new SiloError('message is one line of up to 300 characters');
      return existing(cfg, p);
    },
    run: (cfg, p) => suspendTenant(cfg, String(p.name), { message: str(p.message) }),
  },
  'tenant.resume': { check: existing, run: (cfg, p) => resumeTenant(cfg, String(p.name)) },
  'tenant.backup': {
    check: existing,
    run: (cfg, p) => backupTenant(cfg, String(p.name), { keep: typeof p.keep === 'number' ? p.keep : undefined }),
  },
  'tenant.restore': {
    check(_cfg, p) {
      restoreChoice({ latest: p.latest === true, from: str(p.from), discardPrevious: p.discardPrevious === true });
      // A removed tenant can be restored: the name need not be in the registry.
      return tenantOf(p);
    },
    run(cfg, p) {
      const opts = { latest: p.latest === true, from: str(p.from), discardPrevious: p.discardPrevious === true };
      if (restoreChoice(opts) === 'discard-previous') return discardPrevious(cfg, String(p.name)).then((dropped) => ({ name: p.name, dropped }));
      return restoreTenant(cfg, String(p.name), opts);
    },
  },
  'tenant.move': {
    check(cfg, p) {
      validateServerName(String(p.to));
      return existing(cfg, p);
    },
    run: (cfg, p) => moveTenant(cfg, String(p.name), { to: String(p.to), keepSource: p.keepSource === true }),
  },
  'tenant.sleep': { check: existing, run: (cfg, p) => sleepTenant(cfg, String(p.name)) },
  'tenant.wake': { check: existing, run: (cfg, p) => wakeTenant(cfg, String(p.name)) },
  'tenant.domain.add': {
    check(cfg, p) {
      checkDomain(cfg, String(p.host));
      return existing(cfg, p);
    },
    run: (cfg, p) => addDomain(cfg, String(p.name), String(p.host)),
  },
  'tenant.domain.remove': {
    check: existing,
    run: (cfg, p) => removeDomain(cfg, String(p.name), String(p.host)),
  },
  'tenant.deploy-release': {
    check(cfg, p) {
      // Only a release already in the store (silo deploy put it there): nothing is read from a path.
      if (!listReleases(cfg).some((r) => r.id === p.release)) throw new SiloError(`no release "${String(p.release).slice(0, 80)}" in the store: choose one of the listed releases`);
      return existing(cfg, p);
    },
    run: (cfg, p) => deploy(cfg, String(p.release), { tenants: [String(p.name)] }),
  },
  'tenant.rollback': { check: existing, run: (cfg, p) => rollback(cfg, String(p.name)) },
  deploy: {
    check(cfg, p) {
      const tenants = Array.isArray(p.tenants) ? p.tenants.map(String) : [];
      if (p.all === true && tenants.length) throw new SiloError('give tenants or all, not both');
      if (p.all !== true && tenants.length === 0) throw new SiloError('say which tenants: tenants: [...] or all: true');
      tenants.forEach((n) => knownTenant(cfg, validateTenantName(n)));
      // A fleet operation whatever it names: it runs an app from a path on the host.
      return undefined;
    },
    run: (cfg, p) => deploy(cfg, String(p.app), { tenants: Array.isArray(p.tenants) ? p.tenants.map(String) : [], all: p.all === true }),
  },
  migrate: {
    check(cfg, p) {
      return p.tenant === undefined ? undefined : existing(cfg, { name: p.tenant });
    },
    run: (cfg, p) => migrateTenants(cfg, { tenant: str(p.tenant) }),
  },
  'backup.all': {
    check: () => undefined,
    run: (cfg, p) => backupAll(cfg, { keep: typeof p.keep === 'number' ? p.keep : undefined }),
  },
};

/** A fleet operation's results name the tenants that failed: the job fails with that line. */
export function fleetFailure(result: unknown): string | undefined {
  const rows = Array.isArray(result) ? result : (result as { tenants?: unknown })?.tenants;
  if (!Array.isArray(rows)) return undefined;
  const failed = rows.filter((r: { ok?: boolean }) => r && r.ok === false) as { tenant: string; error?: string }[];
  return failed.length ? `failed for ${failed.map((f) => `${f.tenant} (${f.error ?? 'error'})`).join(', ')}` : undefined;
}
