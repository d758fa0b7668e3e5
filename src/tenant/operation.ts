/**
 * The harness every operation on one tenant runs in (create, remove, backup, restore,
 * move, suspend, resume, deploy, rollback, repair, migrate, sleep, wake):
 *
 *   1. the tenant is named: a name the registry does not hold is refused here, once,
 *      with `no tenant named "<name>"` (create and restore may name a new one);
 *   2. the tenant's lock is taken (tenant-lock.ts), then, for operations whose steps
 *      rewrite the registry they read, the registry lock too;
 *   3. the registry is read under those locks (and the tenant named again: it may have
 *      been removed while this command waited);
 *   4. the operation runs its steps with `op.server()`, which opens a database server
 *      the first time a step needs it (starting the embedded one if the stack is down);
 *   5. every server it opened is closed however it ended, and an unexpected error says
 *      at which step it stopped and which steps had acted before it;
 *   6. its line is appended to the audit log (src/events/audit.ts): who (`cfg.actor`, else
 *      the Unix user), `what`, the tenant, when, ok or the error. Refusals in 1. count.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths, type HomePaths } from '../common/paths.js';
import { validateTenantName } from '../common/names.js';
import { readRegistry, tenantEntry, withRegistryLock, type Registry, type TenantEntry } from '../registry/registry.js';
import { openServer, type OpenServer } from '../servers/servers.js';
import { SiloError } from '../common/errors.js';
import { stepFailure } from '../common/steps.js';
import { withTenantLock } from '../registry/tenant-lock.js';
import { runtimeFor } from '../runtime/select.js';
import { audited, type AuditEntry } from '../events/audit.js';

export interface TenantOperation {
  readonly cfg: SiloConfig;
  readonly name: string;
  readonly paths: HomePaths;
  /** the registry as read once the locks were held */
  reg: Registry;
  /** its entry in `reg` (undefined only for create and restore of a new name) */
  readonly entry: TenantEntry | undefined;
  /** read the registry again (after a step another module wrote it) */
  refresh(): Registry;
  /** a server opened for this operation once, closed when it ends; default: the tenant's */
  server(name?: string): Promise<OpenServer>;
}

export interface OperationOptions {
  /** what the audit log calls it: `tenant.create`, `tenant.suspend`, ... */
  what: string;
  /** non-secret facts for its audit entry (`{ to: 'eu1' }`) */
  details?: AuditEntry['details'];
  /** `exists` (default): refuse a name the registry does not hold; `any`: a name to create */
  tenant?: 'exists' | 'any';
  /** hold the registry lock as well, for the whole operation */
  registryLock?: boolean;
  /**
   * Servers a loop over many tenants opened once for all of them (the caller closes them):
   * opening one server from many operations at once races on its hardening DDL.
   */
  shared?: (server: string) => Promise<OpenServer>;
}

/** Refuse a name the registry does not hold, without taking any lock. */
export function knownTenant(cfg: SiloConfig, name: string): TenantEntry {
  return tenantEntry(readRegistry(homePaths(cfg.home).registry), name);
}

/** The message of an error an operation's steps did not expect, with where they stopped. */
function located(err: unknown): unknown {
  const f = stepFailure(err);
  if (!f || !(err instanceof Error) || err instanceof SiloError) return err;
  const acted = f.ran.filter((r) => r.acted).map((r) => r.step);
  err.message = `${err.message.split('\n')[0]} (${f.operation} stopped at step "${f.step}"${acted.length ? `; done before it: ${acted.join(', ')}` : ''})`;
  return err;
}

export function onTenant<T>(cfg: SiloConfig, name: string, opts: OperationOptions, fn: (op: TenantOperation) => Promise<T>): Promise<T> {
  return audited(cfg, opts.what, name, () => inHarness(cfg, name, opts, fn), opts.details);
}

async function inHarness<T>(cfg: SiloConfig, name: string, opts: OperationOptions, fn: (op: TenantOperation) => Promise<T>): Promise<T> {
  if (opts.tenant === 'any') validateTenantName(name);
  else knownTenant(cfg, name);
  const paths = homePaths(cfg.home);
  // On a swarm, a home another took over changes nothing of the stack (runtime.ts, controlState).
  await runtimeFor(cfg).controlState?.check(cfg);
  const servers = new Map<string, Promise<OpenServer>>();
  const run = async (): Promise<T> => {
    const op: TenantOperation = {
      cfg,
      name,
      paths,
      reg: readRegistry(paths.registry),
      get entry() {
        return this.reg.tenants[name];
      },
      refresh() {
        this.reg = readRegistry(paths.registry);
        return this.reg;
      },
      server(which?: string) {
        const s = which ?? tenantEntry(this.reg, name).server;
        if (opts.shared) return opts.shared(s);
        if (!servers.has(s)) servers.set(s, openServer(cfg, this.reg, s));
        return servers.get(s)!;
      },
    };
    if (opts.tenant !== 'any') tenantEntry(op.reg, name); // removed while this command waited
    try {
      return await fn(op);
    } catch (err) {
      throw located(err);
    } finally {
      for (const s of servers.values()) await (await s.catch(() => undefined))?.release();
    }
  };
  return withTenantLock(cfg.home, name, () => (opts.registryLock ? withRegistryLock(paths.registry, run) : run()));
}
