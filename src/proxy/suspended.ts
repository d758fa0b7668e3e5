/**
 * A suspended tenant: the proxy answers its hosts itself with 503 and `Retry-After`,
 * an HTML page for a browser (Accept: text/html) and the JSON error shape for anything
 * else, and never reaches its worker. The pages and their files live in this file; each
 * kind's config pieces in its own folder (nginx/suspended.ts, caddy/suspended.ts), which
 * its renderer calls at one place. nginx looks for a page file per request (no
 * reload); Caddy's config is re-rendered (its reload is atomic). The operator's message is escaped here into
 * a safe alphabet, so no character of it can end a string of either config language.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import type { Registry, Suspension } from '../registry/registry.js';

/** Retry-After of an operator's maintenance window, and of a restore's or move's seconds. */
export const OPERATOR_RETRY_AFTER = 300;
export const OPERATION_RETRY_AFTER = 5;

export interface SuspendedPage {
  retryAfterSeconds: number;
  json: string;
  html: string;
}

/** Letters, digits and plain punctuation pass; anything else becomes an escape. */
const PLAIN = /[A-Za-z0-9 .,:!?()/_@#%+=-]/;

function escapeJson(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    out += PLAIN.test(ch) ? ch : `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`; // UTF-16 units, as JSON wants
  }
  return out;
}

function escapeHtml(text: string): string {
  return [...text].map((ch) => (PLAIN.test(ch) ? ch : `&#${ch.codePointAt(0)};`)).join('');
}

export function suspendedPage(tenant: string, message: string, retryAfterSeconds: number): SuspendedPage {
  return {
    retryAfterSeconds,
    json: `{"statusCode":503,"error":"Service Unavailable","message":"${escapeJson(message)}","suspended":true}`,
    html:
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(tenant)} is unavailable</title></head>` +
      `<body><h1>${escapeHtml(tenant)} is unavailable</h1><p>${escapeHtml(message)}</p>` +
      `<p>Please try again in ${retryAfterSeconds} seconds.</p></body></html>`,
  };
}

/** What a suspended tenant's visitors see: the operator's message, or why silo paused it. */
export function pageFor(tenant: string, s: Suspension): SuspendedPage {
  if (s.by === 'operator') return suspendedPage(tenant, s.message ?? `${tenant} is down for maintenance.`, OPERATOR_RETRY_AFTER);
  if (s.by === 'ceiling') return suspendedPage(tenant, s.message ?? `${tenant}'s database is over its size ceiling.`, OPERATOR_RETRY_AFTER);
  const what = s.by === 'restore' ? 'being restored from a backup' : 'moving to another database server';
  return suspendedPage(tenant, `${tenant} is ${what}.`, OPERATION_RETRY_AFTER);
}

/**
 * Make `dir` hold the page files of exactly the suspended tenants of `reg`. Suspending
 * writes `.soon` (a short Retry-After) before the pages; resuming deletes the pages first.
 */
export function writeSuspendedPages(dir: string, reg: Registry): void {
  mkdirSync(dir, { recursive: true });
  const wanted = new Set<string>();
  for (const [tenant, t] of Object.entries(reg.tenants)) {
    if (!t.suspended || t.state !== 'ready') continue;
    const page = pageFor(tenant, t.suspended);
    const files: [string, string][] = [[`${tenant}.html`, page.html], [`${tenant}.json`, page.json]];
    if (t.suspended.by !== 'operator' && t.suspended.by !== 'ceiling') files.unshift([`${tenant}.soon`, '']);
    for (const [name, text] of files) {
      wanted.add(name);
      const file = join(dir, name);
      if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileAtomic(file, text, 0o644);
    }
  }
  const order = (f: string) => (f.endsWith('.json') ? 0 : f.endsWith('.html') ? 1 : 2);
  for (const f of readdirSync(dir).sort((a, b) => order(a) - order(b))) if (!wanted.has(f)) rmSync(join(dir, f), { force: true });
}
