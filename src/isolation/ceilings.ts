/**
 * A tenant's ceilings below the database, made where its worker is made (create, up):
 * its control groups (CPU, processes, memory: cgroups.ts) and its own temporary folder
 * (`TMPDIR` = $SILO_HOME/tmp/<tenant>, 0700, its user's). And its logs capped on disk:
 * PM2's daemon appends each worker's output to $SILO_HOME/logs/tenant-<name>.{out,err}.log
 * and never rotates; `capTenantLogs` (run four times a second by the ceilings watcher) copies
 * the newest part of a file past its share into `<file>.1` and truncates it in place
 * (PM2 appends with O_APPEND, so it writes on at the new end). Chosen over pm2-logrotate,
 * a PM2 module that installs into PM2_HOME from npm and checks every 30 s.
 */
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
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

const size = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

/** Bytes of the tenant's logs on disk now (current and rotated files). */
export function tenantLogBytes(home: string, tenant: string): number {
  return tenantLogFiles(home, tenant).reduce((n, f) => n + size(f) + size(`${f}.1`), 0);
}

/** Copy the last `keep` bytes of `file` into `to` (replacing it). */
function copyTail(file: string, to: string, keep: number): void {
  const from = openSync(file, 'r');
  const out = openSync(to, 'w', 0o600);
  try {
    const end = statSync(file).size;
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = Math.max(0, end - keep); pos < end; ) {
      const n = readSync(from, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n <= 0) break;
      writeSync(out, buf, 0, n);
      pos += n;
    }
  } finally {
    closeSync(from);
    closeSync(out);
  }
}

/**
 * Keep the tenant's logs under `cap` bytes: each of its two files may hold a quarter
 * (and its `.1` another quarter). Returns the files it rotated.
 */
export function capTenantLogs(home: string, tenant: string, cap: number): string[] {
  const share = Math.max(4096, Math.floor(cap / 4));
  const rotated: string[] = [];
  for (const file of tenantLogFiles(home, tenant)) {
    if (size(file) <= share) continue;
    copyTail(file, `${file}.1`, share);
    truncateSync(file, 0);
    rotated.push(file);
  }
  return rotated;
}
