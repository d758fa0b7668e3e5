/**
 * The registry: the single source of truth about servers and tenants. PM2's ecosystem
 * file and the proxy config are derived from it. Writes are atomic (temp file, fsync,
 * rename) and every read-modify-write runs under an exclusive lock, so concurrent
 * `silo` commands cannot lose each other's changes. The lock (`registry.lock`, see
 * lock.ts) is taken over at once when its holder's process is gone.
 */
import type { SslMode } from '../contract/pg-connect.js';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { withLock, type LockOwner } from './lock.js';
import { NotFoundError, SiloError } from '../common/errors.js';
import type { StackSettings } from './settings.js';

export interface ServerEntry {
  kind: 'embedded' | 'external';
  /** a host name or address; for an embedded server, the folder of its Unix socket */
  host: string;
  port: number;
  /** TLS to an external server (from its admin URL's sslmode / sslrootcert) */
  sslmode?: SslMode;
  sslrootcert?: string;
  /** its max_connections when silo last asked (external servers; see servers/connection-budget.ts) */
  maxConnections?: number;
}

export interface TenantEntry {
  server: string;
  port: number;
  /** extra hostnames besides `<name>.<SILO_DOMAIN>` */
  domains: string[];
  /** PM2 restarts this tenant's worker above this RSS (e.g. "300M"); default SILO_WORKER_MAX_MEMORY */
  maxMemory?: string;
  /** its own limits (src/isolation/limits.ts); unset: the stack's SILO_TENANT_RATE / SILO_TENANT_CPU */
  limits?: { rate?: number; cpu?: number; pids?: number; dbSize?: string };
  /** idle time before its worker hibernates (`15m`, `0` = never); default SILO_HIBERNATE_AFTER */
  hibernateAfter?: string;
  /**
   * `provisioning` until every creation step has run (re-running create completes it);
   * `removing` from the first removal step on (re-running remove completes it). Only a
   * `ready` tenant gets a worker and a route.
   */
  state: 'provisioning' | 'ready' | 'removing';
  /** while `removing`: what it was before, and since when (its final backup is newer) */
  removal?: { from: 'provisioning' | 'ready'; startedAt: string };
  schemaVersion: number;
  /** which set of database rules its database was last brought up to (tenant/database-rules.ts) */
  databaseRules?: number;
  createdAt: string;
  /** set while the proxy answers this tenant's hosts 503: `silo tenant suspend`, or a restore or move */
  suspended?: Suspension;
  /** a move under way (or whose source copy is not dropped yet): the server it leaves */
  moving?: { from: string; to: string; /** its copy is in place on the target: no way back */ promoted?: boolean };
  /** The app release this tenant runs (`silo deploy`); unset: the stack's app (SILO_APP). */
  release?: TenantRelease;
  /** SILO_RUNTIME=swarm: the node its worker is pinned to (`silo tenant move --node`); unset: anywhere */
  node?: string;
}

export interface Suspension {
  /** `ceiling`: its database passed its size ceiling (src/ceilings/) */
  by: 'operator' | 'restore' | 'move' | 'ceiling';
  message?: string;
  since: string;
}

export interface TenantRelease {
  /** A release under $SILO_HOME/releases/<id>/ */
  id: string;
  /** What `silo rollback` returns to: a release id, null for the stack's app, unset: nothing. */
  previous?: string | null;
}

export interface Registry {
  version: 1;
  /** the stack's settings as first set (see settings.ts) */
  settings?: StackSettings;
  servers: Record<string, ServerEntry>;
  tenants: Record<string, TenantEntry>;
}

export function emptyRegistry(): Registry {
  return { version: 1, servers: {}, tenants: {} };
}

export function readRegistry(file: string): Registry {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyRegistry();
    throw err;
  }
  let parsed: Registry;
  try {
    parsed = JSON.parse(text) as Registry;
  } catch {
    throw new Error(`registry ${file} is not valid JSON; restore it from a backup or fix it by hand`);
  }
  if (parsed.version !== 1 || typeof parsed.tenants !== 'object' || typeof parsed.servers !== 'object') {
    throw new Error(`registry ${file} has an unknown format`);
  }
  return parsed;
}

/** The entry of tenant `name`, or the one refusal every command gives for a name the registry does not hold. */
export function tenantEntry(reg: Registry, name: string): TenantEntry {
  const entry = typeof name === 'string' && Object.hasOwn(reg.tenants, name) ? reg.tenants[name] : undefined;
  if (!entry) throw new NotFoundError(`no tenant named "${String(name).slice(0, 40)}"`);
  return entry;
}

export function writeRegistry(file: string, registry: Registry): void {
  // 0600: under root, tenant workers run as other users; the registry is not theirs to read.
  writeFileAtomic(file, JSON.stringify(registry, null, 2) + '\n', 0o600);
}

type WaitReporter = (owner: LockOwner) => void;
let reportWait: WaitReporter | undefined;

/** Who to tell when a command waits for another live command's lock (the CLI prints it). */
export function onRegistryLockWait(fn: WaitReporter | undefined): void {
  reportWait = fn;
}

/** Tell the CLI a command waits for a live owner of a lock (the registry's, or a tenant's). */
export function reportLockWait(owner: LockOwner): void {
  reportWait?.(owner);
}

export function registryLockFile(registryFile: string): string {
  return registryFile.replace(/(\.json)?$/, '.lock');
}

/**
 * Run `fn` holding the registry lock. A live holder is waited for (and reported); a
 * dead one's lock is taken over at once. Re-entrant along one async call chain.
 */
export async function withRegistryLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  return withLock(
    registryLockFile(file),
    async () => {
      sweepTemporaries(file);
      return fn();
    },
    { onWait: reportLockWait },
  );
}

/** Temp files of writeRegistry left by a command killed mid-write (their pid is gone). */
function sweepTemporaries(file: string): void {
  const prefix = `${basename(file)}.`;
  for (const entry of readdirSync(dirname(file))) {
    const m = entry.startsWith(prefix) && /\.(\d+)\.\d+\.tmp$/.exec(entry);
    if (m && !existsSync(`/proc/${m[1]}`)) rmSync(join(dirname(file), entry), { force: true });
  }
}

/** Read-modify-write under the lock. `change` may mutate the registry it is given. */
export async function updateRegistry<T>(file: string, change: (r: Registry) => T | Promise<T>): Promise<T> {
  return withRegistryLock(file, async () => {
    const registry = readRegistry(file);
    const result = await change(registry);
    writeRegistry(file, registry);
    return result;
  });
}
