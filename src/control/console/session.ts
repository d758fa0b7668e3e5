/**
 * Console sessions: logging in with a token gives a random session id in a cookie
 * (HttpOnly, SameSite=Strict, Secure when the console is served over HTTPS); the token
 * itself stays in this process's memory, never in the cookie nor the page, and is verified
 * again on every request, so a revoked token ends its sessions at once. A restart of the
 * control process logs everyone out (nothing of a session is written to disk).
 *
 * Each session has its own CSRF token, put in every form and checked on every POST; with
 * SameSite=Strict a cross-site form never carries the cookie anyway, this covers browsers
 * that ignore it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE = 'silo_console';
/** A session ends after this long without a request, and in any case after MAX_AGE_MS. */
const IDLE_MS = 2 * 60 * 60 * 1000;
const MAX_AGE_MS = 12 * 60 * 60 * 1000;
/** Sessions kept at most (oldest dropped first): a flood of logins cannot grow memory. */
const MAX_SESSIONS = 1000;

export interface Session<C> {
  id: string;
  token: string;
  caller: C;
  csrf: string;
  createdAt: number;
  seenAt: number;
}

export function createSessions<C>() {
  const sessions = new Map<string, Session<C>>();
  const expired = (s: Session<C>, now: number) => now - s.seenAt > IDLE_MS || now - s.createdAt > MAX_AGE_MS;

  return {
    open(token: string, caller: C): Session<C> {
      const now = Date.now();
      for (const [id, s] of sessions) if (expired(s, now)) sessions.delete(id);
      while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      const s: Session<C> = { id: randomBytes(32).toString('base64url'), token, caller, csrf: randomBytes(24).toString('base64url'), createdAt: now, seenAt: now };
      sessions.set(s.id, s);
      return s;
    },
    /** The live session of this id, touched; undefined if unknown or expired. */
    get(id: string | undefined): Session<C> | undefined {
      if (!id) return undefined;
      const s = sessions.get(id);
      if (!s) return undefined;
      const now = Date.now();
      if (expired(s, now)) {
        sessions.delete(id);
        return undefined;
      }
      s.seenAt = now;
      return s;
    },
    close(id: string): void {
      sessions.delete(id);
    },
    get size() {
      return sessions.size;
    },
  };
}

export function csrfMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(value: string, opts: { path: string; secure: boolean; clear?: boolean }): string {
  return [
    `${COOKIE}=${opts.clear ? '' : value}`,
    `Path=${opts.path}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(opts.secure ? ['Secure'] : []),
    opts.clear ? 'Max-Age=0' : `Max-Age=${Math.floor(MAX_AGE_MS / 1000)}`,
  ].join('; ');
}
