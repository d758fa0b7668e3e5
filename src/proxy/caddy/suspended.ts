/** Caddy's piece of a suspended tenant's 503 (the pages themselves: ../suspended.ts). */
import type { ProxyRoute } from '../model.js';

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
