/**
 * An exclusive lock file that a dead holder does not keep.
 *
 * The lock is a file created atomically (written aside, then hard-linked into place, so
 * it is never seen half-written) holding its owner: pid, the process's start time (so
 * a recycled pid is not mistaken for the owner), host, command line and a nonce. A
 * waiter whose owner's process is gone takes the lock over at once, instead of after a
 * timeout; a live owner is waited for, and `onWait` is told who it is.
 *
 * Taking over is the only racy part: two waiters may both see a dead owner. Breaking a
 * dead owner's lock therefore needs a second lock named after that owner's nonce
 * (`<file>.break-<nonce>`): only its holder may delete the lock, and it deletes it only
 * if the lock still carries that nonce. A breaker that dies in between leaves a break
 * file with a dead owner, which is broken by the same rule. Nothing here relies on time.
 *
 * Within one process the lock is re-entrant along one async call chain (a step that
 * updates the registry while its operation holds the lock), and exclusive between
 * concurrent chains.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { linkSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOwner {
  pid: number;
  /** the process's start time in clock ticks since boot (/proc/<pid>/stat), if known */
  start?: number;
  host: string;
  command: string;
  nonce: string;
  since: string;
}

export interface LockOptions {
  /** called once when the lock is held by a live process, and again if the owner changes */
  onWait?: (owner: LockOwner, file: string) => void;
  /** give up after this long waiting for live owners (default 10 minutes) */
  timeoutMs?: number;
}

/** State of a process: start time and whether it is a zombie; undefined when it is gone. */
function processInfo(pid: number): { start: number; zombie: boolean } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // No /proc (not Linux): fall back to a signal-0 probe.
    try {
      process.kill(pid, 0);
      return { start: NaN, zombie: false };
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM' ? { start: NaN, zombie: false } : undefined;
    }
  }
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { zombie: fields[0] === 'Z' || fields[0] === 'X', start: Number(fields[19]) };
}

export function ownerIsAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true; // another machine's process: cannot tell, so wait
  const info = processInfo(owner.pid);
  if (!info || info.zombie) return false;
  return owner.start === undefined || Number.isNaN(info.start) || info.start === owner.start;
}

function me(): LockOwner {
  const info = processInfo(process.pid);
  return {
    pid: process.pid,
    ...(info && !Number.isNaN(info.start) ? { start: info.start } : {}),
    host: hostname(),
    command: ['silo', ...process.argv.slice(2)].join(' ').slice(0, 200),
    nonce: randomBytes(8).toString('hex'),
    since: new Date().toISOString(),
  };
}

/** Create `file` holding `owner`, atomically; false if it exists. */
function tryCreate(file: string, owner: LockOwner): boolean {
  const tmp = join(dirname(file), `.${basename(file)}.${owner.nonce}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(owner) + '\n', { mode: 0o644 });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** The owner recorded in `file`; undefined if there is no such file. */
export function readOwner(file: string): LockOwner | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as LockOwner;
  } catch {
    // Cannot happen through tryCreate; a hand-made file: treat as an owner that is gone.
    return { pid: 0, host: hostname(), command: '?', nonce: `invalid-${text.length}`, since: '' };
  }
}

function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Remove `file` whose owner (`dead`) is gone, unless another breaker already did. */
function breakDead(file: string, dead: LockOwner, self: LockOwner): void {
  const breaker = `${file}.break-${dead.nonce}`;
  if (tryCreate(breaker, { ...self, nonce: `${self.nonce}-b${randomBytes(4).toString('hex')}` })) {
    try {
      // Only the owner (gone) or the holder of this break file (us) can remove it, so
      // the file cannot change between this read and the unlink.
      if (readOwner(file)?.nonce === dead.nonce) unlinkIfPresent(file);
    } finally {
      unlinkIfPresent(breaker);
    }
    return;
  }
  const other = readOwner(breaker);
  if (other && !ownerIsAlive(other)) breakDead(breaker, other, self);
  // else: a live process is breaking it right now; the caller retries.
}

/** Temp files of tryCreate left by a process killed between writing and unlinking them. */
function sweepTemporaries(file: string): void {
  const prefix = `.${basename(file)}.`;
  for (const entry of readdirSync(dirname(file))) {
    if (!entry.startsWith(prefix) || !entry.endsWith('.tmp')) continue;
    const pid = Number(entry.slice(0, -4).split('.').pop());
    if (Number.isInteger(pid) && pid !== process.pid && !processInfo(pid)) unlinkIfPresent(join(dirname(file), entry));
  }
}

const held = new AsyncLocalStorage<Set<string>>();
const local = new Map<string, Promise<void>>();

/** Does the calling async chain hold the lock `file`? */
export function holds(file: string): boolean {
  return held.getStore()?.has(file) === true;
}

/**
 * Run `fn` holding the lock `file`. Returns what `fn` returns; the lock is released
 * however `fn` ends (a SIGKILL leaves the file, which the next taker breaks at once).
 */
export async function withLock<T>(file: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  if (held.getStore()?.has(file)) return fn(); // re-entered by the chain that holds it

  // Concurrent chains of this process queue here rather than poll the file.
  const previous = local.get(file) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => (done = r));
  const tail = previous.then(() => mine);
  local.set(file, tail);
  await previous;
  try {
    const self = await acquire(file, opts);
    try {
      return await held.run(new Set([...(held.getStore() ?? []), file]), fn);
    } finally {
      if (readOwner(file)?.nonce === self.nonce) unlinkIfPresent(file);
    }
  } finally {
    done();
    if (local.get(file) === tail) local.delete(file);
  }
}

async function acquire(file: string, opts: LockOptions): Promise<LockOwner> {
  mkdirSync(dirname(file), { recursive: true });
  const self = me();
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  let reported: string | undefined;
  let pause = 10;
  for (;;) {
    if (tryCreate(file, self)) {
      sweepTemporaries(file);
      return self;
    }
    const owner = readOwner(file);
    if (!owner) continue; // released between our attempt and the read
    if (!ownerIsAlive(owner)) {
      breakDead(file, owner, self);
      continue;
    }
    if (reported !== owner.nonce) {
      reported = owner.nonce;
      opts.onWait?.(owner, file);
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for the lock ${file}, held by pid ${owner.pid} (${owner.command}) since ${owner.since}`);
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 100);
  }
}
