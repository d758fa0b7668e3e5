/**
 * Unix system users, check then act: look one up, create it if missing, remove it. Used
 * for the `postgres` user the embedded server runs as, and (under root) one user per
 * tenant that its worker runs as. Creating users needs root; callers check first.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  /** the GECOS field: who made it and why */
  comment?: string;
  /** its home folder */
  home?: string;
}

/** The name of a uid, from /etc/passwd. */
export function userName(uid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [user, , id] = line.split(':');
      if (user && Number(id) === uid && id !== '') return user;
    }
  } catch {
    // no passwd file: no name
  }
  return undefined;
}

/** The real uid a running process has (from /proc), if it runs. */
export function processUid(pid: number): number | undefined {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** From /etc/passwd (what PM2 and useradd use too). */
export function lookupUser(name: string): OsUser | undefined {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid, comment, home] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid), comment, home };
  }
  return undefined;
}

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin' } });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n').pop();
    throw new Error(`${cmd} ${args.at(-1)} failed: ${stderr || (err as Error).message}`);
  }
}

/**
 * The ids silo's users and groups take: Debian's "dynamically allocated" accounts
 * (policy 9.2.2: 65536 and up, which adduser never hands out), below the first
 * subordinate ids useradd gives people for user namespaces (100000). Debian's system
 * range (100-999, useradd --system's default) ran out near 880 tenants on one host.
 */
export const SILO_IDS = { min: 65536, max: 99999 } as const;

/** A system user with its own group, no home, no login shell, its ids in SILO_IDS. */
export function ensureSystemUser(name: string, comment: string): OsUser {
  const existing = lookupUser(name);
  if (existing) return existing;
  const range = ['UID', 'GID'].flatMap((k) => ['-K', `SYS_${k}_MIN=${SILO_IDS.min}`, '-K', `SYS_${k}_MAX=${SILO_IDS.max}`]);
  run('useradd', ['--system', ...range, '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', comment, name]);
  const created = lookupUser(name);
  if (!created) throw new Error(`useradd ${name} left no user behind`);
  return created;
}

/** Remove a user (and its group); quiet when it is already gone. */
export function removeSystemUser(name: string): boolean {
  if (!lookupUser(name)) return false;
  run('userdel', [name]);
  return true;
}

/**
 * Users whose comment, read by `pattern`, names a home in `folder` (or that home): the
 * pattern's first group is the home. How silo finds the users it made for a state folder.
 */
export function usersMadeFor(folder: string, pattern: RegExp): { name: string; home: string }[] {
  const base = resolve(folder).replace(/[:,\n]/g, '_');
  let text = '';
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .map((f) => ({ name: f[0]!, home: pattern.exec(f[4] ?? '')?.[1] }))
    .filter((u): u is { name: string; home: string } => u.home !== undefined && (u.home === base || u.home.startsWith(`${base}/`)));
}
