/**
 * One scrape's worth of facts about the fleet, gathered from where each lives: the
 * registry (tenants, servers, suspensions), the waker's state (hibernated, wakes), one
 * PM2 listing (memory, restarts; CPU from /proc), the workers' request counts files, one
 * connection per database server (database.ts), the backups' records and the
 * certificates. What is costly is cached (TTLs below); a source that fails leaves its
 * figures out, never the scrape. exposition.ts turns a Snapshot into Prometheus text.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { tenantHosts } from '../common/names.js';
import { runPaths } from '../common/run-dir.js';
import type { RequestCounts } from '../contract/request-counts.js';
import { readRegistry, type Registry } from '../registry/registry.js';
import { certificateOf } from '../proxy/tls/store.js';
import { readState, type WakeCounts } from '../hibernate/state.js';
import { listBackups, readAttempt } from '../backup/manifest.js';
import { createDatabaseReader, type ServerSample } from './database.js';
import { readWorkers } from './processes.js';
import { readRequestCounts } from './request-counts.js';
import { ttlCache } from './ttl-cache.js';

export const TENANT_STATES = ['awake', 'hibernated', 'suspended', 'down'] as const;
export type TenantState = (typeof TENANT_STATES)[number];

export interface TenantSample {
  name: string;
  /** suspended (the proxy answers 503), hibernated (asleep on purpose or after a failed wake), awake (worker online), else down */
  state: TenantState;
  memoryBytes?: number;
  cpuSeconds?: number;
  restarts?: number;
  requests?: RequestCounts;
  wakes?: WakeCounts;
  databaseBytes?: number;
  /** sessions its role holds: its worker's pool connections */
  databaseConnections?: number;
  /** epoch ms of its newest backup; whether its last attempt made one */
  lastBackupAt?: number;
  lastBackupOk?: boolean;
  /** epoch ms when the first of its hosts' certificates expires (TLS only) */
  certificateExpiresAt?: number;
}

export interface Snapshot {
  /** epoch ms */
  at: number;
  tenants: TenantSample[];
  servers: ServerSample[];
}

export const BACKUP_TTL_MS = 30_000;
export const CERTIFICATE_TTL_MS = 300_000;

export function createCollector(cfg: SiloConfig) {
  const databases = createDatabaseReader(cfg);
  const run = runPaths(cfg.home);
  let reg: Registry;
  const ready = () => Object.keys(reg.tenants).filter((n) => reg.tenants[n]!.state === 'ready').sort();

  const backups = ttlCache(BACKUP_TTL_MS, async () => {
    const out = new Map<string, { at?: number; ok?: boolean }>();
    for (const name of ready()) {
      // A removed tenant's records stay (its final dump above all): a tenant made again
      // under its name counts only what happened since it was created.
      const born = Date.parse(reg.tenants[name]!.createdAt) || 0;
      const found = readAttempt(cfg.home, name);
      const attempt = found && Date.parse(found.at) >= born ? found : undefined;
      const newest = attempt?.ok ? attempt.at : listBackups(cfg.home, name).find((e) => e.kind !== 'replaced' && Date.parse(e.finishedAt) >= born)?.finishedAt;
      const at = newest ? Date.parse(newest) : undefined;
      out.set(name, { ...(at ? { at } : {}), ...(attempt ? { ok: attempt.ok } : at ? { ok: true } : {}) });
    }
    return out;
  });

  const certificates = ttlCache(CERTIFICATE_TTL_MS, async () => {
    const out = new Map<string, number>();
    if (!cfg.tls) return out;
    for (const name of ready()) {
      const ends = tenantHosts(cfg, name, reg.tenants[name])
        .map((h) => certificateOf(cfg, h)?.expiresAt)
        .filter((e): e is string => Boolean(e))
        .map((e) => Date.parse(e));
      if (ends.length) out.set(name, Math.min(...ends));
    }
    return out;
  });

  return async function snapshot(): Promise<Snapshot> {
    reg = readRegistry(homePaths(cfg.home).registry);
    const names = ready();
    const sleep = readState(cfg.home).tenants;
    const [workers, db, backupOf, certOf] = await Promise.all([readWorkers(names), databases(reg), backups(), certificates()]);
    const tenants = names.map((name): TenantSample => {
      const entry = reg.tenants[name]!;
      const w = workers.get(name);
      const state: TenantState = entry.suspended ? 'suspended' : w?.online ? 'awake' : sleep[name]?.asleep ? 'hibernated' : 'down';
      const b = backupOf.get(name);
      const sample: TenantSample = { name, state };
      if (w?.memoryBytes !== undefined) sample.memoryBytes = w.memoryBytes;
      if (w?.cpuSeconds !== undefined) sample.cpuSeconds = w.cpuSeconds;
      if (w?.restarts !== undefined) sample.restarts = w.restarts;
      const requests = readRequestCounts(run.requestCounts(name));
      if (requests && requests.since >= (Date.parse(entry.createdAt) || 0)) sample.requests = requests;
      if (sleep[name]?.wakes) sample.wakes = sleep[name]!.wakes;
      if (db.sizes.has(name)) sample.databaseBytes = db.sizes.get(name);
      if (db.servers.some((s) => s.name === entry.server && s.up)) sample.databaseConnections = db.sessions.get(name) ?? 0;
      if (b?.at !== undefined) sample.lastBackupAt = b.at;
      if (b?.ok !== undefined) sample.lastBackupOk = b.ok;
      if (certOf.has(name)) sample.certificateExpiresAt = certOf.get(name);
      return sample;
    });
    return { at: Date.now(), tenants, servers: db.servers };
  };
}
