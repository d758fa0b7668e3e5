/**
 * One operation on a tenant at a time: every operation on one tenant (create, remove,
 * backup, restore, move, suspend, resume, deploy, rollback, repair, migrate, sleep, wake)
 * holds this lock for its whole run, so two of them never interleave, while the registry
 * lock stays free for commands on other tenants between short registry steps.
 *
 * Order: a tenant's lock is taken before the registry lock, never while holding it (the
 * other order could deadlock with an operation that holds the tenant and waits for the
 * registry); the one command that must (`up` creating demo tenants) is refused a busy
 * tenant rather than wait. A command waiting for a live holder says so on stderr and waits; a dead
 * holder's lock is taken over at once (registry/lock.ts). Re-entrant along one call
 * chain: restore creating the tenant it brings back, remove taking its final backup.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { holds, ownerIsAlive, readOwner, withLock, type LockOwner } from './lock.js';
import { registryLockFile, reportLockWait } from './registry.js';
import { homePaths } from '../common/paths.js';
import { SiloError } from '../common/errors.js';
import { validateTenantName } from '../common/names.js';

function lockFile(home: string, tenant: string): string {
  return join(home, 'locks', `tenant-${validateTenantName(tenant)}.lock`);
}

export async function withTenantLock<T>(home: string, tenant: string, fn: () => Promise<T>): Promise<T> {
  const file = lockFile(home, tenant);
  mkdirSync(join(home, 'locks'), { recursive: true, mode: 0o700 });
  if (holds(file) || !holds(registryLockFile(homePaths(home).registry))) return withLock(file, fn, { onWait: reportLockWait });
  // Already holding the registry lock (`up` creating its demo tenants): waiting here for an
  // operation that itself waits for the registry lock would never end, so a busy tenant
  // is refused instead.
  try {
    return await withLock(file, fn, { timeoutMs: 0 });
  } catch (err) {
    const owner = tenantLockHolder(home, tenant);
    if (!owner || !/^gave up waiting for the lock/.test((err as Error).message)) throw err;
    throw new SiloError(`tenant "${tenant}" is busy: ${owner.command} (pid ${owner.pid}) is operating on it; try again when it is done`);
  }
}

/** The live process operating on `tenant` right now, if any. */
export function tenantLockHolder(home: string, tenant: string): LockOwner | undefined {
  const owner = readOwner(lockFile(home, tenant));
  return owner && ownerIsAlive(owner) ? owner : undefined;
}
