/**
 * Caddy's pieces of HTTPS (SILO_TLS=on; the certificates: ../tls/store.ts). The tenants'
 * site listens on the HTTPS port and loads every bundle of the certificate folder
 * (picked by SNI; a name without one fails the handshake). Caddy reads the folder when
 * its config loads, so the rendered file carries a stamp of the bundles: a new or
 * renewed certificate changes the text, and the reload (an atomic swap) serves it. The
 * HTTP port answers ACME challenges, redirects a tenant's hosts to HTTPS, 404 otherwise.
 */
import type { ProxyModel } from '../model.js';

const NOT_FOUND = '`{"statusCode":404,"error":"Not Found","message":"no tenant serves this host"}`';

/** The site address of the tenants' block. */
export function caddyTenantSite(model: ProxyModel): string {
  return model.tls ? `https://:${model.tls.port}` : `http://:${model.listenPort}`;
}

/** Inside the tenants' site: the certificates and HSTS. */
export function caddyTlsDirectives(model: ProxyModel): string {
  if (!model.tls) return '';
  const hsts = model.tls.hsts > 0 ? `\theader Strict-Transport-Security "max-age=${model.tls.hsts}"\n` : '';
  return `	# certificates: ${model.tls.stamp}
	tls {
		load ${model.tls.certDir}
		protocols tls1.2 tls1.3
	}
${hsts}`;
}

/** The HTTP listener when HTTPS is on. */
export function caddyHttpSite(model: ProxyModel): string {
  if (!model.tls) return '';
  const hosts = model.routes.flatMap((r) => r.hosts);
  const port = model.tls.port === 443 ? '' : `:${model.tls.port}`;
  const known = hosts.length
    ? `	@tenant host ${hosts.join(' ')}
	handle @tenant {
		redir https://{host}${port}{uri} 308
	}
`
    : '';
  return `
http://:${model.listenPort} {
	bind ${model.listenHost}
	handle /.well-known/acme-challenge/* {
		root * ${model.tls.webroot}
		file_server
	}
${known}	handle {
		header Content-Type application/json
		respond ${NOT_FOUND} 404
	}
}
`;
}
