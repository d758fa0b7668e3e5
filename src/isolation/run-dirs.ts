/**
 * Who may reach a worker's socket (src/common/run-dir.ts for where they are). Under root:
 *
 *   <run>/                 root 0711      everyone may pass, nobody may list it
 *   <run>/<tenant>/        tenant's user, group of the proxy user, 2750: only the
 *                          tenant writes there (its socket, its activity and request counts files), only
 *                          the proxy (and root) can enter; a neighbour cannot even stat
 *                          its socket, a local user neither
 *   <run>/_routes/<tenant> root, 0711 / 0644: the tenants the proxy routes (written by
 *                          the `route` step, after the worker started; removed first)
 *   <run>/_hosts/<domain>  root, 0711 / symlink to ../_routes/<tenant>: a customer's
 *                          domain, which nginx resolves per request (so adding or
 *                          removing one never reloads it); dangling while its tenant
 *                          is not routed, so the host answers 404
 *   <run>/_proxy/          root, group of the proxy user, 0750: the waker's socket (0660),
 *                          so only the proxy and root (the CLI) reach the waker
 *
 * The proxy user (`silo<hash>-proxy`, one per home, never a tenant's name: `proxy` is
 * reserved) is what nginx's workers and Caddy run as. Not under root there is one user:
 * the same folders, 0700, and the proxy runs as that user.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { SiloConfig } from '../common/config.js';
import type { Registry } from '../registry/registry.js';
import { RUN_ROOT, runPaths, socketPathProblem, type RunPaths } from '../common/run-dir.js';
import { isRoot } from '../common/reach.js';
import { ensureSystemUser, lookupUser, removeSystemUser, usersMadeFor, type OsUser } from './os-users.js';
import { tenantUser } from './tenant-user.js';

const hex = (text: string, n: number) => createHash('sha256').update(text).digest('hex').slice(0, n);

export function proxyUserName(home: string): string {
  return `silo${hex(resolve(home), 4)}-proxy`;
}

const proxyComment = (home: string) => `silo proxy of ${resolve(home)}`.replace(/[:,\n]/g, '_');

/** The proxy's user (root only): made if missing; refuses a user of that name silo did not make. */
export function ensureProxyUser(cfg: SiloConfig): OsUser | undefined {
  if (!isRoot()) return undefined;
  const name = proxyUserName(cfg.home);
  const existing = lookupUser(name);
  if (existing && existing.comment !== proxyComment(cfg.home)) {
    throw new Error(`a Unix user named ${name} exists and was not made by silo for this home's proxy: remove or rename it`);
  }
  return existing ?? ensureSystemUser(name, proxyComment(cfg.home));
}

/** The proxy's user if it exists (root only). */
export function proxyUser(cfg: SiloConfig): OsUser | undefined {
  if (!isRoot()) return undefined;
  const user = lookupUser(proxyUserName(cfg.home));
  return user && user.comment === proxyComment(cfg.home) ? user : undefined;
}

/** A folder with exactly this owner and mode; a symlink or a file in its place is replaced. */
function folder(path: string, mode: number, uid?: number, gid?: number): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    st = undefined;
  }
  if (st && !st.isDirectory()) rmSync(path, { force: true });
  mkdirSync(path, { recursive: true, mode });
  if (uid !== undefined && gid !== undefined) chownSync(path, uid, gid);
  chmodSync(path, mode);
}

/** The run folder and the waker's folder; idempotent. */
export function ensureRunDir(cfg: SiloConfig): void {
  const problem = socketPathProblem(cfg.home);
  if (problem) throw new Error(problem);
  const p = runPaths(cfg.home);
  if (!isRoot()) {
    folder(p.dir, 0o700);
    folder(p.proxyDir, 0o700);
    folder(p.routesDir, 0o700);
    folder(p.hostsDir, 0o700);
    return;
  }
  const proxy = ensureProxyUser(cfg)!;
  mkdirSync(RUN_ROOT, { recursive: true, mode: 0o711 });
  folder(p.dir, 0o711, 0, 0);
  writeFileSync(p.mark, resolve(cfg.home) + '\n', { mode: 0o644 });
  folder(p.proxyDir, 0o750, 0, proxy.gid);
  folder(p.routesDir, 0o711, 0, 0);
  folder(p.hostsDir, 0o711, 0, 0);
}

/** A tenant's folder: its user writes, the proxy enters. Needs ensureRunDir first. */
export function ensureTenantRunDir(cfg: SiloConfig, tenant: string): void {
  const dir = runPaths(cfg.home).tenantDir(tenant);
  if (!isRoot()) return folder(dir, 0o700);
  const proxy = ensureProxyUser(cfg)!;
  // Never root's: a tenant whose user is missing runs as nobody (tenant-user.ts), and
  // cannot bind there: its requests wait in the wake path and fail, nothing else does.
  const owner = tenantUser(cfg, tenant) ?? lookupUser('nobody');
  folder(dir, 0o2750, owner?.uid ?? 65534, proxy.gid);
}

/** Remove a tenant's route and folder: the proxy answers its hosts 404, its socket goes. */
export function removeTenantRunDir(cfg: SiloConfig, tenant: string): void {
  rmSync(runPaths(cfg.home).route(tenant), { force: true });
  rmSync(runPaths(cfg.home).tenantDir(tenant), { recursive: true, force: true });
}

/**
 * Route exactly the ready tenants: each has its folder (its worker binds there) and its
 * route file (nginx sends a host to a tenant only while that file exists); anything else
 * loses its route first, then its folder. Called where the proxy config is synced (after
 * a new tenant's worker started: until then its host is 404, not a wake).
 */
export function syncTenantRunDirs(cfg: SiloConfig, reg: Registry): void {
  ensureRunDir(cfg);
  const run = runPaths(cfg.home);
  const ready = new Set(Object.keys(reg.tenants).filter((n) => reg.tenants[n]!.state === 'ready'));
  for (const e of readdirSync(run.routesDir)) if (!ready.has(e)) rmSync(join(run.routesDir, e), { force: true });
  // Tenant folders only: a name has no dot (control.sock is the control API's).
  for (const e of readdirSync(run.dir)) if (/^[a-z][a-z0-9-]*$/.test(e) && !ready.has(e)) removeTenantRunDir(cfg, e);
  for (const name of ready) {
    ensureTenantRunDir(cfg, name);
    if (!existsSync(run.route(name))) writeFileSync(run.route(name), '', { mode: 0o644 });
  }
  syncHostLinks(run, reg);
}

/** `_hosts/<domain>` -> `../_routes/<tenant>` for every customer domain in the registry, nothing else. */
function syncHostLinks(run: RunPaths, reg: Registry): void {
  const want = new Map<string, string>();
  for (const [name, entry] of Object.entries(reg.tenants)) for (const host of entry.domains) want.set(host, join('..', '_routes', name));
  for (const e of readdirSync(run.hostsDir)) {
    const target = want.get(e);
    let current: string | undefined;
    try {
      current = readlinkSync(run.hostLink(e));
    } catch {
      current = undefined; // not a symlink: replaced below
    }
    if (target === undefined || current !== target) rmSync(run.hostLink(e), { force: true, recursive: true });
  }
  for (const [host, target] of want) {
    if (existsSync(run.hostLink(host)) || isLink(run.hostLink(host))) continue;
    symlinkSync(target, run.hostLink(host));
  }
}

const isLink = (path: string) => {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
};

/** Every run folder (root) that belongs to a home in `folder` or to that home: for cleaning up after tests. */
export function forgetRunDirs(folder: string): void {
  const base = resolve(folder);
  if (!isRoot()) return;
  let entries: string[] = [];
  try {
    entries = readdirSync(RUN_ROOT);
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = join(RUN_ROOT, e);
    let home = '';
    try {
      home = readFileSync(join(dir, '_home'), 'utf8').trim();
    } catch {
      continue;
    }
    if (home === base || home.startsWith(`${base}/`)) rmSync(dir, { recursive: true, force: true });
  }
}

/** The proxy users of every home in `folder` (or of that home). */
export function proxyUsersOf(folder: string): string[] {
  return usersMadeFor(folder, /^silo proxy of (.*)$/).map((u) => u.name);
}

export function removeProxyUsers(folder: string): void {
  for (const user of proxyUsersOf(folder)) {
    try {
      removeSystemUser(user);
    } catch {
      // a process of it still runs: its home is gone anyway
    }
  }
}
