/**
 * The fleet as the console shows it: one row per registered tenant from the registry,
 * PM2's list (one call), hibernation's state file, each tenant's newest backup entry and
 * the sampler's recent figures. Nothing here asks a database server or a worker, so a
 * page costs the same whether 10 or 1,000 tenants are awake.
 */
import type { SiloConfig } from '../../common/config.js';
import { homePaths } from '../../common/paths.js';
import { readRegistry, type Registry, type TenantEntry } from '../../registry/registry.js';
import { releaseShort, releaseSummary } from '../../apps/releases.js';
import { workerApp } from '../../pm2/ecosystem.js';
import type { Running } from '../../pm2/workers.js';
import { readState } from '../../hibernate/state.js';
import { latestBackup } from '../../backup/manifest.js';
import type { Sampler } from './samples.js';

/** Every state a row can have, for the filter. */
export const STATES = ['online', 'hibernated', 'suspended', 'stopped', 'errored', 'launching', 'provisioning', 'removing'] as const;

export interface FleetRow {
  name: string;
  /** provisioning/removing (registry), suspended, else the worker's: online, hibernated, stopped, errored, ... */
  state: string;
  /** `notes@1.2.0`, or `-` for the stack's app */
  release: string;
  server: string;
  domains: string[];
  memoryMB?: number;
  rpm?: number;
  lastBackup?: { at: string; kind: string; bytes: number };
  suspended?: { by: string; message?: string; since: string };
  /** recent requests per minute (or memory, when no request counts are known) */
  chart: { label: string; values: number[] };
}

export interface FleetSources {
  /** PM2's apps of the stack (pm2/workers.ts running()) */
  processes(): Promise<Running>;
  sampler?: Sampler;
}

export function rowState(entry: TenantEntry, worker: string, asleep: boolean): string {
  if (entry.state !== 'ready') return entry.state;
  if (entry.suspended) return 'suspended';
  if (asleep && worker !== 'online') return 'hibernated';
  return worker;
}

export async function fleetRows(cfg: SiloConfig, sources: FleetSources, reg: Registry = readRegistry(homePaths(cfg.home).registry)): Promise<FleetRow[]> {
  const procs = await sources.processes();
  const sleep = readState(cfg.home).tenants;
  const releases = new Map<string | undefined, string>();
  const release = (id: string | undefined) => {
    if (!releases.has(id)) releases.set(id, releaseShort(releaseSummary(cfg, id)));
    return releases.get(id)!;
  };
  return Object.entries(reg.tenants).map(([name, t]) => {
    const p = procs.get(workerApp(name));
    const worker = p?.pm2_env?.status ?? 'stopped';
    const backup = latestBackup(cfg.home, name);
    const rpm = sources.sampler?.rpmSeries(name) ?? [];
    return {
      name,
      state: rowState(t, worker, sleep[name]?.asleep === true),
      release: release(t.release?.id),
      server: t.server,
      domains: t.domains,
      ...(worker === 'online' && p?.monit ? { memoryMB: Math.round(p.monit.memory / 1048576) } : {}),
      ...(sources.sampler?.rpm(name) !== undefined ? { rpm: Math.round(sources.sampler.rpm(name)!) } : {}),
      ...(backup ? { lastBackup: { at: backup.startedAt, kind: backup.kind, bytes: backup.bytes } } : {}),
      ...(t.suspended ? { suspended: { by: t.suspended.by, since: t.suspended.since, ...(t.suspended.message ? { message: t.suspended.message } : {}) } } : {}),
      chart: rpm.length ? { label: 'requests per minute', values: rpm } : { label: 'memory MB', values: sources.sampler?.memorySeries(name) ?? [] },
    };
  });
}
