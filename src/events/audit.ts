/**
 * The audit log: one line per state-changing operation, appended when it ends, by
 * whoever ran it, whatever it did. `$SILO_HOME/events/audit.log` (append-log.ts: JSON
 * lines, 0600, atomic appends, rotated like every log); `silo audit` reads it.
 *
 * Appended in one place per kind of operation: the tenant harness (tenant/operation.ts)
 * for everything on one tenant, and `audited()` around the others (server add, up, down,
 * webhooks, tokens). An operation that another runs as one of its steps (a restore's
 * suspend, a removal putting a tenant back) is part of it and writes no line of its own.
 *
 * Who: `cfg.actor` when the caller says (the control API passes `token:<id>`; a process
 * of the stack `silo:<app>`), else the Unix user running silo (and the one behind sudo).
 * Never a secret: targets are names, errors have any password in a URL or a
 * `password=` masked, details are chosen by the caller from non-secret fields.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { userInfo } from 'node:os';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { logRotation } from '../common/log-rotation.js';
import { appendRecord, readRecords } from './append-log.js';

export interface AuditEntry {
  /** when it ended, ISO 8601 */
  at: string;
  who: string;
  /** `<noun>.<verb>`: tenant.create, tenant.suspend, server.add, stack.up, webhook.add, ... */
  what: string;
  /** the tenant, server, webhook or token it acted on */
  target?: string;
  result: 'ok' | 'error';
  /** the one-line error, when result is error */
  error?: string;
  ms?: number;
  details?: Record<string, string | number | boolean | string[]>;
}

export type AuditConfig = Pick<SiloConfig, 'home' | 'logMax' | 'logFiles' | 'actor'>;

/** The Unix user running this process, and the one who ran sudo if it was sudo. */
export function unixActor(): string {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = `uid ${process.getuid?.() ?? '?'}`;
  }
  const sudo = process.env.SUDO_USER;
  return sudo && sudo !== name ? `${name} (sudo: ${sudo})` : name;
}

export const actorOf = (cfg: Pick<SiloConfig, 'actor'>): string => cfg.actor || unixActor();

/** Mask what could be a secret in an error message: passwords in URLs, `password=...`, webhook secrets. */
export function scrubSecrets(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@]*@/gi, '$1***@')
    .replace(/\b(password|passwd|secret|token)(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, '$1$2***')
    .replace(/\bwhsec_[A-Za-z0-9_-]+/g, 'whsec_***');
}

/** Append one entry. Never throws: an audit log that cannot be written is said on stderr, the operation stands. */
export async function audit(cfg: AuditConfig, entry: Omit<AuditEntry, 'at' | 'who'> & { who?: string; at?: string }): Promise<void> {
  const record: AuditEntry = {
    at: entry.at ?? new Date().toISOString(),
    who: entry.who ?? actorOf(cfg),
    what: entry.what,
    ...(entry.target !== undefined ? { target: entry.target } : {}),
    result: entry.result,
    ...(entry.error !== undefined ? { error: scrubSecrets(entry.error.split('\n')[0]!).slice(0, 500) } : {}),
    ...(entry.ms !== undefined ? { ms: Math.round(entry.ms) } : {}),
    ...(entry.details ? { details: entry.details } : {}),
  };
  try {
    await appendRecord(homePaths(cfg.home).audit, record as unknown as Record<string, unknown>, logRotation(cfg));
  } catch (err) {
    process.stderr.write(`silo: could not append to the audit log: ${(err as Error).message}\n`);
  }
}

const inside = new AsyncLocalStorage<string>();

/**
 * Run `fn` as the operation `what` on `target` and append its entry when it ends, ok or
 * the error's message (the error is rethrown as it was). Inside another audited operation
 * it only runs `fn`: the outer one's entry covers it.
 */
export async function audited<T>(cfg: AuditConfig, what: string, target: string | undefined, fn: () => Promise<T>, details?: AuditEntry['details']): Promise<T> {
  if (inside.getStore()) return fn();
  const started = performance.now();
  try {
    const out = await inside.run(what, fn);
    await audit(cfg, { what, target, result: 'ok', ms: performance.now() - started, details });
    return out;
  } catch (err) {
    await audit(cfg, { what, target, result: 'error', error: err instanceof Error ? err.message : String(err), ms: performance.now() - started, details });
    throw err;
  }
}

/** The entries, oldest first; with `tenant`, those about it. */
export function readAudit(home: string, opts: { tenant?: string } = {}): AuditEntry[] {
  const all = readRecords<AuditEntry>(homePaths(home).audit);
  return opts.tenant ? all.filter((e) => e.what.startsWith('tenant.') && e.target === opts.tenant) : all;
}
