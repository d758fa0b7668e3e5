/**
 * A suspended tenant: the proxy answers its hosts itself with 503 and `Retry-After`,
 * an HTML page for a browser (Accept: text/html) and the JSON error shape for anything
 * else, and never reaches its worker. Everything about it lives in this file; nginx.ts
 * and caddy.ts each call it at one place. The operator's message is escaped here into
 * a safe alphabet, so no character of it can end a string of either config language.
 */
import type { ProxyModel, ProxyRoute } from './model.js';

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

const upstreamOf = (r: ProxyRoute) => r.tenant.replace(/-/g, '_');

// ---------------------------------------------------------------------------------------
// nginx: maps from $host to the tenant and its pages, one check at the top of `location /`
// (rewrite phase: before any upstream or rate limit), and two internal locations.

export function nginxSuspendedMaps(model: ProxyModel): string {
  const suspended = model.routes.filter((r) => r.suspended);
  const byTenant = (pick: (r: ProxyRoute) => string) => suspended.map((r) => `  ${upstreamOf(r)} '${pick(r)}';`).join('\n');
  return `
# Suspended tenants (silo tenant suspend, restore, move): answered here with 503.
map $host $silo_suspended {
  hostnames;
  default "";
${suspended.flatMap((r) => r.hosts.map((h) => `  ${h} ${upstreamOf(r)};`)).join('\n')}
}

map "$silo_suspended:$http_accept" $silo_suspended_page {
  default "";
  "~^[^:]+:.*text/html" html;
  "~^[^:]+:" json;
}

map $silo_suspended $silo_suspended_json {
  default "";
${byTenant((r) => r.suspended!.json)}
}

map $silo_suspended $silo_suspended_html {
  default "";
${byTenant((r) => r.suspended!.html)}
}

map $silo_suspended $silo_retry_after {
  default "";
${byTenant((r) => String(r.suspended!.retryAfterSeconds))}
}
`;
}

export function nginxSuspendedCheck(): string {
  return `    if ($silo_suspended_page = html) {
      rewrite ^ /_silo_suspended/html last;
    }
    if ($silo_suspended_page = json) {
      rewrite ^ /_silo_suspended/json last;
    }`;
}

export function nginxSuspendedLocations(): string {
  return (['html', 'json'] as const)
    .map(
      (kind) => `  location = /_silo_suspended/${kind} {
    internal;
    default_type ${kind === 'html' ? '"text/html; charset=utf-8"' : 'application/json'};
    add_header Retry-After $silo_retry_after always;
    add_header Cache-Control "no-store" always;
    return 503 $silo_suspended_${kind};
  }`,
    )
    .join('\n');
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
