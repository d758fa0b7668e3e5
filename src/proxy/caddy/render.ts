/**
 * Renders the Caddyfile site block: one site on the listen address, a host matcher per
 * tenant, and a catch-all that answers 404 itself.
 */
import { caddyRateLimitNote } from './rate-limit.js';
import { caddySuspendedHandler } from './suspended.js';
import type { ProxyModel, ProxyRoute } from '../model.js';
import { renderCaddyWake } from './wake.js';

/** How a request goes to its tenant's worker (the first time, and again after a wake). */
export function tenantReverseProxy(r: ProxyRoute, indent: string): string {
  return `reverse_proxy 127.0.0.1:${r.port} {
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

export function renderCaddy(base: string, model: ProxyModel): string {
  const handlers = model.routes.map((r) =>
    r.suspended
      ? caddySuspendedHandler(r)
      : `	@${r.tenant} host ${r.hosts.join(' ')}
	handle @${r.tenant} {
${tenantReverseProxy(r, '\t\t')}
	}`,
  );
  return `${base.trimEnd()}

# Rendered by silo from the registry. Do not edit: run silo commands instead.
${caddyRateLimitNote(model)}http://:${model.listenPort} {
	bind ${model.listenHost}
	request_body {
		max_size ${model.bodyLimitBytes}
	}
	# A declared oversized body is refused here with 413 (request_body alone makes the
	# proxy fail mid-stream, which clients see as a 502).
	@too_large expression \`{http.request.header.Content-Length} != "" && int({http.request.header.Content-Length}) > ${model.bodyLimitBytes}\`
	handle @too_large {
		header Content-Type application/json
		respond \`{"statusCode":413,"error":"Payload Too Large","message":"the request body is too large"}\` 413
	}
${handlers.join('\n')}
	handle_errors {
${model.wakerPort !== undefined ? renderCaddyWake(model) : ''}		header Content-Type application/json
		respond \`{"statusCode":{err.status_code},"error":"{err.status_text}","message":"{err.status_text}"}\` {err.status_code}
	}
	handle {
		header Content-Type application/json
		respond \`{"statusCode":404,"error":"Not Found","message":"no tenant serves this host"}\` 404
	}
}
`;
}
