/**
 * Where backups live and what is known about each: $SILO_HOME/backups/<tenant>/ holds
 * `<tenant>-<time>.dump` (pg_dump custom format, 0600) and, beside it, its manifest
 * entry `<tenant>-<time>.json`. The entry is written last (atomically), so a dump
 * without an entry is an interrupted backup: never listed, never restored, swept by the
 * next backup of that tenant. One small file per backup needs no lock between
 * concurrent backups.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { homePaths } from '../common/paths.js';

/** `final`: taken by remove; `replaced`: the data a restore had replaced, dumped by remove */
export type BackupKind = 'manual' | 'scheduled' | 'final' | 'replaced';

export interface BackupEntry {
  tenant: string;
  /** absolute path of the dump */
  file: string;
  kind: BackupKind;
  server: string;
  /** null: unknown (the tenant had replaced silo's migrations table) */
  schemaVersion: number | null;
  bytes: number;
  sha256: string;
  startedAt: string;
  finishedAt: string;
  /** what `restore` of a removed tenant needs to bring it back as it was */
  domains: string[];
  maxMemory?: string;
}

const DUMP = /\.dump$/;

/** The last backup attempt of a tenant's own database: when it ended and whether it made a backup (for /metrics). */
export interface BackupAttempt {
  ok: boolean;
  /** ISO time it ended */
  at: string;
}

const attemptFile = (home: string, tenant: string) => homePaths(home).backupAttempt(tenant);

export function recordAttempt(home: string, tenant: string, attempt: BackupAttempt): void {
  mkdirSync(dirname(attemptFile(home, tenant)), { recursive: true, mode: 0o700 });
  writeFileAtomic(attemptFile(home, tenant), JSON.stringify(attempt) + '\n', 0o600);
}

export function readAttempt(home: string, tenant: string): BackupAttempt | undefined {
  try {
    const a = JSON.parse(readFileSync(attemptFile(home, tenant), 'utf8')) as BackupAttempt;
    return typeof a.ok === 'boolean' && typeof a.at === 'string' ? a : undefined;
  } catch {
    return undefined;
  }
}

export function backupDir(home: string, tenant: string): string {
  const dir = homePaths(home).tenantBackups(tenant);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dirname(dir), 0o700);
  chmodSync(dir, 0o700);
  return dir;
}

export function newDumpFile(home: string, tenant: string, at: Date): string {
  return join(backupDir(home, tenant), `${tenant}-${at.toISOString().replace(/[:.]/g, '-')}.dump`);
}

export const entryFile = (dump: string) => dump.replace(DUMP, '.json');

export function writeEntry(entry: BackupEntry): void {
  writeFileAtomic(entryFile(entry.file), JSON.stringify(entry, null, 2) + '\n', 0o600);
}

/** The manifest entry of a dump file, if it has one. */
export function readEntry(dump: string): BackupEntry | undefined {
  try {
    const e = JSON.parse(readFileSync(entryFile(dump), 'utf8')) as BackupEntry;
    return { ...e, file: join(dirname(dump), basename(e.file)) };
  } catch {
    return undefined;
  }
}

/** Every recorded backup, newest first (of one tenant, or of all, removed ones included). */
export function listBackups(home: string, tenant?: string): BackupEntry[] {
  const root = homePaths(home).backups;
  if (!existsSync(root)) return [];
  const tenants = tenant ? [tenant] : readdirSync(root).filter((d) => statSync(join(root, d)).isDirectory());
  const entries: BackupEntry[] = [];
  for (const t of tenants) {
    const dir = join(root, t);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => DUMP.test(n))) {
      const e = readEntry(join(dir, f));
      if (e) entries.push(e);
    }
  }
  return entries.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.file.localeCompare(a.file));
}

/**
 * A tenant's newest recorded backup, reading one entry only (file names sort by their
 * start time): what the console's fleet shows for each of 1,000 tenants.
 */
export function latestBackup(home: string, tenant: string): BackupEntry | undefined {
  let names: string[];
  try {
    names = readdirSync(homePaths(home).tenantBackups(tenant)).filter((n) => DUMP.test(n));
  } catch {
    return undefined;
  }
  names.sort().reverse();
  for (const n of names) {
    const e = readEntry(join(homePaths(home).tenantBackups(tenant), n));
    if (e) return e;
  }
  return undefined;
}

/** Dumps an interrupted backup left behind (no manifest entry), except one being written now. */
export function sweepPartial(home: string, tenant: string, keep: string): void {
  const dir = homePaths(home).tenantBackups(tenant);
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) {
    const file = join(dir, f);
    if (file === keep || file === `${keep}.partial`) continue;
    if (f.endsWith('.partial') || (DUMP.test(f) && !existsSync(entryFile(file)))) rmSync(file, { force: true });
  }
}

/**
 * Keep the newest `keep` backups of a tenant; older ones go (entry first, so a crash in
 * between leaves an unlisted dump, never a listed backup without its file). A tenant's
 * final dumps (taken by `remove`: `final` and `replaced`) are never pruned.
 */
export function prune(home: string, tenant: string, keep: number): BackupEntry[] {
  const old = listBackups(home, tenant).filter((e) => e.kind !== 'final' && e.kind !== 'replaced').slice(keep);
  for (const e of old) {
    rmSync(entryFile(e.file), { force: true });
    rmSync(e.file, { force: true });
  }
  return old;
}
