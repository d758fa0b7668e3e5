/**
 * A tenant's ceilings below the database, made where its worker is made (create, up):
 * its control groups (CPU, processes, memory: cgroups.ts) and its own temporary folder
 * (`TMPDIR` = $SILO_HOME/tmp/<tenant>, 0700, its user's). And its logs capped on disk:
 * its worker's $SILO_HOME/logs/tenant-<name>.{out,err}.log rotate by the rule every log
 * follows (common/log-rotation.ts), with files small enough that both logs, every file
 * kept, fit in its ceiling (SILO_TENANT_LOG_SIZE); the ceilings watcher checks four times
 * a second.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { logBytes, rotateIfOver, type LogRotation } from '../common/log-rotation.js';
import { join } from 'node:path';
import type { SiloConfig } from '../common/config.js';
import type { TenantEntry } from '../registry/registry.js';
import { homePaths } from '../common/paths.js';
import { cpuGroupNeedsWork, detectCgroups, ensureTenantCgroup } from './cgroups.js';
import { tenantCeilings, tenantLimits } from './limits.js';
import { perTenantUsers, tenantUser } from './tenant-user.js';

export const tenantTmpDir = (home: string, tenant: string) => join(home, 'tmp', tenant);

type Entry = Pick<TenantEntry, 'limits' | 'maxMemory'>;

const groupLimits = (cfg: SiloConfig, entry: Entry) => {
  const c = tenantCeilings(cfg, entry);
  return { cpu: tenantLimits(cfg, entry).cpu, pids: c.pids, memory: c.memory };
};

function tmpOwner(cfg: SiloConfig, tenant: string): { uid: number; gid: number } | undefined {
  if (!perTenantUsers()) return undefined;
  const u = tenantUser(cfg, tenant);
  return u ? { uid: u.uid, gid: u.gid } : undefined;
}

function tmpNeedsWork(cfg: SiloConfig, tenant: string): boolean {
  const dir = tenantTmpDir(cfg.home, tenant);
  if (!existsSync(dir)) return true;
  const st = statSync(dir);
  const owner = tmpOwner(cfg, tenant);
  return (st.mode & 0o777) !== 0o700 || (owner !== undefined && st.uid !== owner.uid);
}

/** Make (or align) the tenant's groups and temporary folder. */
export function ensureTenantCeilings(cfg: SiloConfig, tenant: string, entry: Entry, support = detectCgroups()): void {
  ensureTenantCgroup(cfg.home, tenant, groupLimits(cfg, entry), support);
  const parent = join(cfg.home, 'tmp');
  mkdirSync(parent, { recursive: true, mode: 0o711 });
  chmodSync(parent, 0o711);
  const dir = tenantTmpDir(cfg.home, tenant);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const owner = tmpOwner(cfg, tenant);
  if (owner) chownSync(dir, owner.uid, owner.gid);
}

export function ceilingsNeedWork(cfg: SiloConfig, tenant: string, entry: Entry, support = detectCgroups()): boolean {
  return cpuGroupNeedsWork(cfg.home, tenant, groupLimits(cfg, entry), support) || tmpNeedsWork(cfg, tenant);
}

export function removeTenantTmp(cfg: SiloConfig, tenant: string): void {
  rmSync(tenantTmpDir(cfg.home, tenant), { recursive: true, force: true });
}

/** The log files of a tenant's worker (as stack/ecosystem.ts names them). */
export function tenantLogFiles(home: string, tenant: string): string[] {
  const logs = homePaths(home).logs;
  return ['out', 'err'].map((k) => join(logs, `tenant-${tenant}.${k}.log`));
}

/** Bytes of the tenant's logs on disk now (current and rotated files). */
export function tenantLogBytes(home: string, tenant: string): number {
  return tenantLogFiles(home, tenant).reduce((n, f) => n + logBytes(f), 0);
}

/**
 * Each of a tenant's log files under the stack's rotation (common/log-rotation.ts), with
 * files small enough that both logs, every file kept, fit in its ceiling `cap`.
 */
export function tenantLogRotation(cap: number, stack: LogRotation): LogRotation {
  const files = Math.max(1, stack.files);
  return { files, maxBytes: Math.max(4096, Math.min(stack.maxBytes, Math.floor(cap / (2 * files)))) };
}

/** Keep the tenant's logs under `cap` bytes (see tenantLogRotation). Returns the files it rotated. */
export function capTenantLogs(home: string, tenant: string, cap: number, stack: LogRotation): string[] {
  const r = tenantLogRotation(cap, stack);
  return tenantLogFiles(home, tenant).filter((file) => rotateIfOver(file, r));
}
