/**
 * Renders the Caddyfile site block: one site on the listen address, a host matcher per
 * tenant sending it to its worker's Unix socket, and a catch-all that answers 404 itself.
 */
import { CLEARED_FORWARDING, INTERNAL_HEADERS } from '../internal-headers.js';
import { caddyRateLimitNote } from './rate-limit.js';
import { caddySuspendedHandler } from './suspended.js';
import type { ProxyModel, ProxyRoute } from '../model.js';
import { renderCaddyWake } from './wake.js';
import { caddyAskSite, caddyGlobals, caddyHttpSite, caddyTenantSite, caddyTlsDirectives } from './tls.js';

/** Internal and forwarding headers a client sent are dropped; the forwarding ones are set from the peer. */
export function caddyHeaderHygiene(setHere: readonly string[] = []): string[] {
  // (Caddy deletes after it sets: a header this block sets is not deleted too.)
  return [...INTERNAL_HEADERS, ...CLEARED_FORWARDING].filter((h) => !setHere.includes(h)).map((h) => `header_up -${h}`);
}

/** How a request goes to its tenant's worker (the first time, and again after a wake). */
export function tenantReverseProxy(model: ProxyModel, r: ProxyRoute, indent: string): string {
  return `reverse_proxy unix/${model.runDir}/${r.tenant}/http.sock {
${caddyHeaderHygiene().map((l) => `\t${l}`).join('\n')}
	header_up X-Forwarded-For {remote_host}
	header_up X-Forwarded-Host {host}
	header_up X-Real-IP {remote_host}
	lb_retries 1
	lb_try_duration 2s
	transport http {
		keepalive 60s
		keepalive_idle_conns_per_host 32
	}
}`
    .split('\n')
    .map((l) => indent + l)
    .join('\n');
}

/** SILO_CONTROL_HOST: the control API on its own host, to the socket it keeps for the proxy (tokens checked there). */
function caddyControlHandler(model: ProxyModel): string {
  const c = model.control;
  if (!c) return '';
  return `	@silo_control host ${c.host}
	handle @silo_control {
		reverse_proxy unix/${c.socket} {
${caddyHeaderHygiene().map((l) => `\t\t\t${l}`).join('\n')}
			header_up X-Forwarded-For {remote_host}
			header_up X-Forwarded-Host {host}
			header_up X-Real-IP {remote_host}
		}
	}
`;
}

export function renderCaddy(base: string, model: ProxyModel): string {
  const handlers = model.routes.map((r) =>
    r.suspended
      ? caddySuspendedHandler(r)
      : `	@${r.tenant} host ${r.hosts.join(' ')}
	handle @${r.tenant} {
${tenantReverseProxy(model, r, '\t\t')}
	}`,
  );
  return `${caddyGlobals(base, model).trimEnd()}

# Rendered by silo from the registry. Do not edit: run silo commands instead.
${caddyRateLimitNote(model)}${caddyTenantSite(model)} {
	bind ${model.listenHost}
${caddyTlsDirectives(model)}	request_body {
		max_size ${model.bodyLimitBytes}
	}
	# A declared oversized body is refused here with 413 (request_body alone makes the
	# proxy fail mid-stream, which clients see as a 502).
	@too_large expression \`{http.request.header.Content-Length} != "" && int({http.request.header.Content-Length}) > ${model.bodyLimitBytes}\`
	handle @too_large {
		header Content-Type application/json
		respond \`{"statusCode":413,"error":"Payload Too Large","message":"the request body is too large"}\` 413
	}
${caddyControlHandler(model)}${handlers.join('\n')}
	handle_errors {
${renderCaddyWake(model)}		header Content-Type application/json
		respond \`{"statusCode":{err.status_code},"error":"{err.status_text}","message":"{err.status_text}"}\` {err.status_code}
	}
	handle {
		header Content-Type application/json
		respond \`{"statusCode":404,"error":"Not Found","message":"no tenant serves this host"}\` 404
	}
}
${caddyHttpSite(model)}${caddyAskSite(model)}`;
}
