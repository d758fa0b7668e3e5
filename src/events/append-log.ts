/**
 * A JSON-lines file that many processes append to at once (the audit log, the webhook
 * delivery log), mode 0600 in a 0700 folder.
 *
 * Each record is one write(2) of one line on a file opened with O_APPEND, and a line is
 * kept under 4 KiB (PIPE_BUF; long strings are cut): the kernel moves the offset to the
 * end and writes the line in one step, so concurrent writers never interleave within a
 * line and none overwrites another. Writers never keep the file open, so it rotates by
 * rename (SILO_LOG_MAX, SILO_LOG_FILES: common/log-rotation.ts), one rotator at a time
 * under a lock file that a dead holder does not keep.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { rotateByRenameIfOver, rotatedFile, type LogRotation } from '../common/log-rotation.js';
import { withLock } from '../registry/lock.js';

/** Below PIPE_BUF (4096 on Linux), newline included. */
export const MAX_LINE = 4000;

/** The record as one line of at most MAX_LINE bytes: the longest string is halved until it fits. */
export function fitLine(record: Record<string, unknown>): string {
  let r = record;
  for (let i = 0; i < 40; i++) {
    const line = JSON.stringify(r);
    if (Buffer.byteLength(line) < MAX_LINE) return line;
    let key: string | undefined;
    let longest = -1;
    for (const [k, v] of Object.entries(r)) {
      const n = typeof v === 'string' ? v.length : v && typeof v === 'object' ? JSON.stringify(v).length : 0;
      if (n > longest) [key, longest] = [k, n];
    }
    const v = r[key!];
    r = { ...r, [key!]: typeof v === 'string' ? `${v.slice(0, Math.floor(v.length / 2))}...` : '(too long)' };
  }
  return JSON.stringify({ at: record.at, error: 'record too long' });
}

/** A folder of the events (and its parent up to $SILO_HOME/events): 0700, whatever the umask or an older silo made. */
export function privateFolder(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Append one record; then rotate the file if it has grown past its size. */
export async function appendRecord(file: string, record: Record<string, unknown>, rotation: LogRotation): Promise<void> {
  privateFolder(dirname(file));
  const line = Buffer.from(fitLine(record) + '\n');
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, line);
  } finally {
    closeSync(fd);
  }
  if ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) > rotation.maxBytes) {
    await withLock(`${file}.rotate.lock`, async () => void rotateByRenameIfOver(file, rotation), { timeoutMs: 10_000 });
  }
}

/** Every record of the file and its rotated files, oldest first; a torn line (a crash mid-write) is skipped. */
export function readRecords<T>(file: string): T[] {
  const files: string[] = [];
  for (let k = 1; statSync(rotatedFile(file, k), { throwIfNoEntry: false }); k++) files.unshift(rotatedFile(file, k));
  files.push(file);
  const out: T[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // a line cut short by a crash
      }
    }
  }
  return out;
}
