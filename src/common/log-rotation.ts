/**
 * Logs that cannot fill the disk: the one rotation rule for every log silo keeps (each
 * PM2 app's `$SILO_HOME/logs/<app>.{out,err}.log`: the workers, the proxy, PostgreSQL, the
 * waker, the backup scheduler, the ceilings watcher; and PM2's own pm2.log).
 *
 * PM2's daemon keeps each file open and appends with O_APPEND, and never rotates. A file
 * past its size is rotated by copy and truncate (logrotate's copytruncate, as pm2-logrotate
 * does too): `<file>.1` becomes `.2` and so on, the newest `maxBytes` of the file are
 * copied into `<file>.1`, and the file is emptied in place, where PM2 writes on. So a log
 * holds at most `files` files (the live one and `files - 1` rotated), each at most
 * `maxBytes`, plus what is written between two checks; `pm2 logs <app>` reads the live
 * file as before. Lines written between the copy and the truncate are lost (microseconds).
 *
 * silo's own rotation rather than the pm2-logrotate module: that module installs into each
 * PM2_HOME from npm (a network fetch at start, and a PM2 module in every test's PM2_HOME),
 * checks every 30 s by default, and knows nothing of a tenant's ceiling (all its logs
 * together, src/isolation/ceilings.ts), which needs checks four times a second against a
 * hostile flood. The ceilings watcher (src/isolation/ceilings-main.ts) runs this rule.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SiloConfig } from './config.js';
import { bytesOf } from './sizes.js';

export interface LogRotation {
  /** bytes a file may hold before it is rotated */
  maxBytes: number;
  /** files kept per log, the live one included (at least 1: then it is only emptied) */
  files: number;
}

/** SILO_LOG_MAX and SILO_LOG_FILES. */
export const logRotation = (cfg: Pick<SiloConfig, 'logMax' | 'logFiles'>): LogRotation => ({ maxBytes: bytesOf(cfg.logMax), files: cfg.logFiles });

const size = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

export const rotatedFile = (file: string, k: number) => `${file}.${k}`;

/** Bytes of a log on disk: the live file and every rotated one. */
export function logBytes(file: string): number {
  let n = size(file);
  for (let k = 1; existsSync(rotatedFile(file, k)); k++) n += size(rotatedFile(file, k));
  return n;
}

/** Copy the last `keep` bytes of `file` into `to` (replacing it). */
function copyTail(file: string, to: string, keep: number): void {
  const from = openSync(file, 'r');
  const out = openSync(to, 'w', 0o600);
  try {
    const end = statSync(file).size;
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = Math.max(0, end - keep); pos < end; ) {
      const n = readSync(from, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n <= 0) break;
      writeSync(out, buf, 0, n);
      pos += n;
    }
  } finally {
    closeSync(from);
    closeSync(out);
  }
}

/** Rotate `file` if it holds more than `maxBytes`. Returns whether it did. */
export function rotateIfOver(file: string, r: LogRotation): boolean {
  if (size(file) <= r.maxBytes) return false;
  const files = Math.max(1, r.files);
  // The oldest kept goes (after the shift it would be one too many), with any beyond it
  // (the setting may have been lowered).
  for (let k = Math.max(1, files - 1); existsSync(rotatedFile(file, k)); k++) rmSync(rotatedFile(file, k), { force: true });
  for (let k = files - 2; k >= 1; k--) {
    if (existsSync(rotatedFile(file, k))) renameSync(rotatedFile(file, k), rotatedFile(file, k + 1));
  }
  if (files > 1) copyTail(file, rotatedFile(file, 1), r.maxBytes);
  truncateSync(file, 0);
  return true;
}

/**
 * The same rule for a log that its writers open, append one line to and close (the audit
 * log, the webhook delivery log: src/events/), rather than keep open: the file is renamed
 * to `<file>.1`, not copied and emptied, so no line is lost; a writer that opened it just
 * before finishes its line in `.1`, the next one creates the file again. The caller makes
 * sure that one process at a time rotates it.
 */
export function rotateByRenameIfOver(file: string, r: LogRotation): boolean {
  if (size(file) <= r.maxBytes) return false;
  const files = Math.max(1, r.files);
  if (files === 1) {
    truncateSync(file, 0);
    return true;
  }
  for (let k = files - 1; existsSync(rotatedFile(file, k)); k++) rmSync(rotatedFile(file, k), { force: true });
  for (let k = files - 2; k >= 1; k--) {
    if (existsSync(rotatedFile(file, k))) renameSync(rotatedFile(file, k), rotatedFile(file, k + 1));
  }
  renameSync(file, rotatedFile(file, 1));
  return true;
}

/** Rotate every `*.log` in `dir` that `mine` accepts. Returns the files rotated. */
export function rotateLogsIn(dir: string, r: LogRotation, mine: (name: string) => boolean = () => true): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.log') && mine(n))
    .map((n) => join(dir, n))
    .filter((f) => rotateIfOver(f, r));
}
