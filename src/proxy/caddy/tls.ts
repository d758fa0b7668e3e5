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
  // ACME: on-demand, a certificate per host at its first handshake, for the hosts the
  // ask endpoint approves (caddyAskSite); Caddy keeps and renews them in its data folder.
  const source = model.tls.acme ? '\t\ton_demand' : `\t\tload ${model.tls.certDir}`;
  return `	# certificates: ${model.tls.acme ? 'on demand' : model.tls.stamp}
	tls {
${source}
		protocols tls1.2 tls1.3
	}
${hsts}`;
}

/**
 * The global options for on-demand ACME, in place of `auto_https off` (the base file's).
 * Caddy answers the challenges itself: HTTP-01 on the HTTP port, TLS-ALPN-01 on the
 * HTTPS port.
 */
export function caddyGlobals(base: string, model: ProxyModel): string {
  const acme = model.tls?.acme;
  if (!acme) return base;
  const lines = [
    'auto_https disable_redirects',
    `http_port ${model.listenPort}`,
    `https_port ${model.tls!.port}`,
    `acme_ca ${acme.directory}`,
    ...(acme.caFile ? [`acme_ca_root ${acme.caFile}`] : []),
    ...(acme.email ? [`email ${acme.email}`] : []),
    'on_demand_tls {',
    `\task http://127.0.0.1:${acme.askPort}/`,
    '}',
  ];
  return base.replace(/^\tauto_https off$/m, lines.map((l) => `\t${l}`).join('\n'));
}

/**
 * The on-demand \`ask\` endpoint, answered by Caddy itself on loopback: 200 for a host
 * silo serves (the routes, rendered from the registry), 404 for any other, so nobody
 * gets a certificate issued for a name silo does not serve (how on-demand TLS is
 * abused otherwise).
 */
export function caddyAskSite(model: ProxyModel): string {
  const acme = model.tls?.acme;
  if (!acme) return '';
  // the control API's admin host is approved too (SILO_CONTROL_HOST)
  const hosts = [...model.routes.flatMap((r) => r.hosts), ...(model.control ? [model.control.host] : [])];
  const known = hosts.length ? `\t@silo query ${hosts.map((h) => `domain=${h}`).join(' ')}\n\trespond @silo 200\n` : '';
  return `
http://127.0.0.1:${acme.askPort} {
	bind 127.0.0.1
${known}	respond 404
}
`;
}

/** The HTTP listener when HTTPS is on. */
export function caddyHttpSite(model: ProxyModel): string {
  if (!model.tls) return '';
  const hosts = [...model.routes.flatMap((r) => r.hosts), ...(model.control ? [model.control.host] : [])];
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

interface CaddyJson {
  apps?: { tls?: { automation?: { policies?: { issuers?: { module?: string; account_key?: string }[] }[] } } };
}

/**
 * The adapted config with silo's ACME account given to every ACME issuer (the Caddyfile
 * of Caddy 2.6 has no directive for it): Caddy then uses that one registered account,
 * never registering its own (why: ../tls/acme.ts, acmeAccountKey).
 */
export function withAcmeAccount(config: CaddyJson, model: ProxyModel): CaddyJson {
  const key = model.tls?.acme?.accountKey;
  if (!key) return config;
  for (const policy of config.apps?.tls?.automation?.policies ?? []) {
    for (const issuer of policy.issuers ?? []) if (issuer.module === 'acme') issuer.account_key = key;
  }
  return config;
}
