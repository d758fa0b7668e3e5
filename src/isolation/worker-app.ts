/**
 * What isolation adds to a tenant's PM2 app definition (pm2/ecosystem.ts), kept here so
 * that file only spreads it in: under root the tenant's own Unix user, and where cgroups
 * exist the preload that moves the worker into its CPU group before PM2 switches user.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SiloConfig } from '../common/config.js';
import { detectCgroups, tenantCgroup } from './cgroups.js';
import { workerIdentity } from './tenant-user.js';

/** `uid`, `gid` and `node_args` (the given Node flags, plus the CPU-group preload). */
export function workerIsolation(cfg: SiloConfig, tenant: string, codeRoot: string, nodeArgs: string[]): { uid?: number; gid?: number; node_args: string[] } {
  const group = tenantCgroup(detectCgroups(), cfg.home, tenant);
  const join_ = group && existsSync(group) ? [`--import=${join(codeRoot, 'dist', 'isolation', 'join-cgroup.js')}`] : [];
  return { ...workerIdentity(cfg, tenant), node_args: [...nodeArgs, ...join_] };
}

/** `CPU_CGROUP`: the group's cgroup.procs, for the preload (nothing when there is no group). */
export function workerIsolationEnv(cfg: SiloConfig, tenant: string): { CPU_CGROUP?: string } {
  const group = tenantCgroup(detectCgroups(), cfg.home, tenant);
  return group && existsSync(group) ? { CPU_CGROUP: join(group, 'cgroup.procs') } : {};
}
