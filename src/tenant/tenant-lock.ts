/**
 * One long operation on a tenant at a time (restore, move): a lock per tenant, so two
 * restores or a restore and a move of the same tenant never interleave, while the
 * registry lock stays free for every other command between their short registry steps.
 * A dead holder's lock is taken over at once (registry/lock.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { withLock } from '../registry/lock.js';

export function withTenantLock<T>(home: string, tenant: string, fn: () => Promise<T>): Promise<T> {
  const dir = join(home, 'locks');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return withLock(join(dir, `tenant-${tenant}.lock`), fn);
}
