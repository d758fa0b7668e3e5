/**
 * What isolation adds to a tenant's PM2 app definition (pm2/ecosystem.ts), kept here so
 * that file only spreads it in: under root the tenant's own Unix user, and where cgroups
 * exist the groups its launcher (worker-launch.ts) joins before it drops to that user.
 */
import { existsSync } from 'node:fs';
import type { SiloConfig } from '../common/config.js';
import { detectCgroups, tenantCgroup, tenantProcsFiles } from './cgroups.js';
import { workerIdentity } from './tenant-user.js';
import { tenantTmpDir } from './ceilings.js';

/** `uid`, `gid` and `node_args` (the given Node flags). */
export function workerIsolation(cfg: SiloConfig, tenant: string, _codeRoot: string, nodeArgs: string[]): { uid?: number; gid?: number; node_args: string[] } {
  return { ...workerIdentity(cfg, tenant), node_args: [...nodeArgs] };
}

/**
 * `CGROUP_PROCS`: its groups' cgroup.procs files (CPU, processes, memory), ':'-separated,
 * for the launcher (nothing when there is no group); `TMPDIR`: its own temporary folder
 * (see ceilings.ts).
 */
export function workerIsolationEnv(cfg: SiloConfig, tenant: string): { CGROUP_PROCS?: string; TMPDIR?: string } {
  const support = detectCgroups();
  const group = tenantCgroup(support, cfg.home, tenant);
  const files = group && existsSync(group) ? tenantProcsFiles(support, cfg.home, tenant).filter((f) => existsSync(f)) : [];
  const tmp = tenantTmpDir(cfg.home, tenant);
  return { ...(files.length ? { CGROUP_PROCS: files.join(':') } : {}), ...(existsSync(tmp) ? { TMPDIR: tmp } : {}) };
}
