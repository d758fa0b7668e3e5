/**
 * A suspended tenant: the proxy answers its hosts itself with 503 and `Retry-After`,
 * an HTML page for a browser (Accept: text/html) and the JSON error shape for anything
 * else, and never reaches its worker. Everything about it lives in this file; nginx.ts
 * and caddy.ts each call it at one place. nginx looks for a page file per request (no
 * reload); Caddy's config is re-rendered (its reload is atomic). The operator's message is escaped here into
 * a safe alphabet, so no character of it can end a string of either config language.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import type { Registry, Suspension } from '../registry/registry.js';
import type { ProxyModel, ProxyRoute } from './model.js';

/** Retry-After of an operator's maintenance window, and of a restore's or move's seconds. */
const OPERATOR_RETRY_AFTER = 300;
const OPERATION_RETRY_AFTER = 5;

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
  const what = s.by === 'restore' ? 'being restored from a backup' : 'moving to another database server';
  return suspendedPage(tenant, `${tenant} is ${what}.`, OPERATION_RETRY_AFTER);
}

// ---------------------------------------------------------------------------------------
// nginx: the config does not change when a tenant is suspended or resumed, so nginx is
// never reloaded for it (a reload closes every tenant's idle keep-alive connections, and
// a request sent on one at that instant fails). A tenant is suspended while its page
// file exists in `suspendedDir` (writeSuspendedPages): two stat() calls per request.

export function nginxSuspendedMaps(model: ProxyModel): string {
  if (!model.suspendedDir) return '';
  return `
# Suspended tenants (silo tenant suspend, restore, move): the proxy answers 503 itself
# while ${model.suspendedDir}/<tenant>.json exists.
map $host $silo_tenant {
  hostnames;
  default "";
${model.routes.flatMap((r) => r.hosts.map((h) => `  ${h} ${r.tenant};`)).join('\n')}
}

map $http_accept $silo_page {
  default json;
  "~*text/html" html;
}
`;
}

export function nginxSuspendedCheck(model: ProxyModel): string {
  if (!model.suspendedDir) return '';
  const dir = model.suspendedDir;
  return `    set $silo_retry_after ${OPERATOR_RETRY_AFTER};
    if (-f ${dir}/$silo_tenant.soon) {
      set $silo_retry_after ${OPERATION_RETRY_AFTER};
    }
    if (-f ${dir}/$silo_tenant.$silo_page) {
      rewrite ^ /_silo_suspended last;
    }`;
}

export function nginxSuspendedLocations(model: ProxyModel): string {
  if (!model.suspendedDir) return '';
  // The 503 comes from an error_page of this location's own (one in \`location /\` or the
  // server would change which error pages the other locations inherit); its body is the
  // tenant's page file, served by the next location.
  return `  location = /_silo_suspended {
    internal;
    error_page 599 =503 /_silo_suspended_page/$silo_tenant.$silo_page;
    return 599;
  }
  location ^~ /_silo_suspended_page/ {
    internal;
    alias ${model.suspendedDir}/;
    types {
      application/json json;
      text/html html;
    }
    charset utf-8;
    etag off;
    add_header Retry-After $silo_retry_after always;
    add_header Cache-Control "no-store" always;
  }`;
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
    if (t.suspended.by !== 'operator') files.unshift([`${tenant}.soon`, '']);
    for (const [name, text] of files) {
      wanted.add(name);
      const file = join(dir, name);
      if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileAtomic(file, text, 0o644);
    }
  }
  const order = (f: string) => (f.endsWith('.json') ? 0 : f.endsWith('.html') ? 1 : 2);
  for (const f of readdirSync(dir).sort((a, b) => order(a) - order(b))) if (!wanted.has(f)) rmSync(join(dir, f), { force: true });
}

// ---------------------------------------------------------------------------------------
// Caddy: the tenant's handle block answers instead of proxying.

export function caddySuspendedHandler(r: ProxyRoute): string {
  const p = r.suspended!;
  const name = r.tenant;
  return `	@${name}_browser {
		host ${r.hosts.join(' ')}
		header Accept *text/html*
	}
	handle @${name}_browser {
		header Retry-After ${p.retryAfterSeconds}
		header Cache-Control no-store
		header Content-Type "text/html; charset=utf-8"
		respond \`${p.html}\` 503
	}
	@${name} host ${r.hosts.join(' ')}
	handle @${name} {
		header Retry-After ${p.retryAfterSeconds}
		header Cache-Control no-store
		header Content-Type application/json
		respond \`${p.json}\` 503
	}`;
}
