/**
 * One Unix user per tenant, under root. A tenant's worker runs as its own unprivileged
 * system user (PM2's `uid`/`gid`), which owns its password file (0400) and its log files
 * and nothing else: the registry (0600), the admin URLs and the other tenants' passwords
 * (0600, root's), the backups (0700) and the other logs (0600) are closed to it, and the
 * folders on the way to its password file and logs can be entered but not listed (0711).
 * Not under root there is one user and nothing to switch to: workers share silo's user,
 * and `silo status` says so.
 *
 * User names are `silo<4 hex of $SILO_HOME>-<tenant>` (cut to 32 characters with a hash
 * when longer), so two silo homes on one machine never share a user; the user's comment
 * names the tenant and the home, and silo only ever removes a user whose comment it wrote.
 */
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { ensureSystemUser, lookupUser, removeSystemUser, usersMadeFor, type OsUser } from './os-users.js';
import { blockingFolder, isRoot } from '../common/reach.js';

/** Each tenant's worker runs as its own user (silo runs as root). */
export const perTenantUsers = (): boolean => isRoot();

const hex = (text: string, n: number) => createHash('sha256').update(text).digest('hex').slice(0, n);

export function tenantUserName(home: string, tenant: string): string {
  const name = `silo${hex(resolve(home), 4)}-${tenant}`;
  return name.length <= 32 ? name : `${name.slice(0, 23)}-${hex(name, 8)}`;
}

const commentFor = (home: string, tenant: string) => `silo tenant ${tenant} of ${resolve(home)}`.replace(/[:,\n]/g, '_');

/** The tenant's user if it exists and is the one silo made for this home and tenant. */
export function tenantUser(cfg: SiloConfig, tenant: string): OsUser | undefined {
  const user = lookupUser(tenantUserName(cfg.home, tenant));
  return user && user.comment === commentFor(cfg.home, tenant) ? user : undefined;
}

/** Create it if missing (root only); refuses a user of that name silo did not make. */
export function ensureTenantUser(cfg: SiloConfig, tenant: string): OsUser {
  const name = tenantUserName(cfg.home, tenant);
  const existing = lookupUser(name);
  if (existing && existing.comment !== commentFor(cfg.home, tenant)) {
    throw new Error(`a Unix user named ${name} exists and was not made by silo for tenant "${tenant}": remove or rename it`);
  }
  return existing ?? ensureSystemUser(name, commentFor(cfg.home, tenant));
}

export function removeTenantUser(cfg: SiloConfig, tenant: string): boolean {
  return tenantUser(cfg, tenant) ? removeSystemUser(tenantUserName(cfg.home, tenant)) : false;
}

/** The PM2 settings that run a tenant's worker as its user (nothing when not root). */
export function workerIdentity(cfg: SiloConfig, tenant: string): { uid?: number; gid?: number } {
  if (!perTenantUsers()) return {};
  // Never root: a tenant whose user is missing (made before this silo, or removed by
  // hand) runs as nobody, cannot read its password and says so; `silo up` or
  // `silo tenant repair` make the user.
  const user = tenantUser(cfg, tenant) ?? lookupUser('nobody');
  if (!user) throw new Error(`tenant "${tenant}" has no Unix user and there is no "nobody" user to fall back to`);
  return { uid: user.uid, gid: user.gid };
}

/** What the password file should look like: owner and mode. */
export function passwordFileRule(cfg: SiloConfig, tenant: string): { uid: number; mode: number } {
  const user = perTenantUsers() ? tenantUser(cfg, tenant) : undefined;
  return user ? { uid: user.uid, mode: 0o400 } : { uid: process.getuid?.() ?? 0, mode: 0o600 };
}

/** Why the password file is not as the rule says, if it is not. */
export function passwordFileProblem(cfg: SiloConfig, tenant: string): string | undefined {
  const file = homePaths(cfg.home).tenantPassword(tenant);
  if (!existsSync(file)) return 'it is missing';
  const st = statSync(file);
  const want = passwordFileRule(cfg, tenant);
  if ((st.mode & 0o777) !== want.mode) return `its mode was ${(st.mode & 0o777).toString(8)}, not ${want.mode.toString(8)}`;
  if (st.uid !== want.uid) return `it was owned by uid ${st.uid}, not ${want.uid}`;
  return undefined;
}

/**
 * Give the tenant's user its password file and log files, and make sure it can reach the
 * password file (and nothing else). Idempotent.
 */
export function handOverFiles(cfg: SiloConfig, tenant: string): void {
  const paths = homePaths(cfg.home);
  const user = tenantUser(cfg, tenant);
  if (!user) return;
  const blocked = blockingFolder(paths.home);
  if (blocked) {
    throw new Error(`tenant workers cannot reach ${paths.home}: ${blocked.folder} (mode ${blocked.mode}) is private; as root, keep SILO_HOME outside private folders`);
  }
  chmodSync(paths.home, 0o711);
  for (const dir of [paths.secrets, join(paths.secrets, 'tenants')]) chmodSync(dir, 0o711);
  const file = paths.tenantPassword(tenant);
  chownSync(file, user.uid, user.gid);
  chmodSync(file, 0o400);
  // Its log files are its own (the PM2 daemon writes what the worker prints into them);
  // the folder can be entered (not listed); the other logs are 0600 (pm2.ts).
  mkdirSync(paths.logs, { recursive: true, mode: 0o711 });
  chmodSync(paths.logs, 0o711);
  for (const log of [`tenant-${tenant}.out.log`, `tenant-${tenant}.err.log`]) {
    closeSync(openSync(join(paths.logs, log), 'a', 0o600));
    chownSync(join(paths.logs, log), user.uid, user.gid);
    chmodSync(join(paths.logs, log), 0o600);
  }
}

/** Every tenant user silo made for a home in `folder` (or that home itself): to clean up after a test. */
export function tenantUsersOf(folder: string): string[] {
  return usersMadeFor(folder, /^silo tenant \S+ of (.*)$/).map((u) => u.name);
}
