/**
 * nginx's pieces of HTTPS (SILO_TLS=on; the certificates: ../tls/store.ts). The tenants'
 * server block listens on the HTTPS port (HTTP/2 on) instead of the HTTP one, and picks
 * each handshake's certificate by its SNI name from a file per host
 * (`ssl_certificate` with a variable, nginx >= 1.15.9): a certificate issued or renewed
 * later is served from the next handshake on, without a reload. The price is a file
 * read per full handshake (resumed sessions skip it; npm run bench measures it). A
 * name with no file fails the handshake: nginx serves no certificate for a host silo
 * does not know. The HTTP port answers ACME HTTP-01 challenges from the webroot,
 * redirects a tenant's host to HTTPS (308 keeps the method and body) and answers
 * anything else 404 itself.
 */
import type { ProxyModel } from '../model.js';
import { nginxHostRoot, nginxRouteCheck } from './routes.js';


const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** The listen line of the tenants' server block. */
export function nginxTenantListen(model: ProxyModel): string {
  if (!model.tls) return `listen ${hostPort(model.listenHost, model.listenPort)} default_server reuseport;`;
  return `listen ${hostPort(model.listenHost, model.tls.port)} ssl http2 default_server reuseport;
${nginxTlsDirectives(model)}`;
}

/** http level: the SNI name -> its bundle. */
export function nginxCertMap(model: ProxyModel): string {
  if (!model.tls) return '';
  const wildcard = model.tls.wildcard ? `\n  *.${model.domain} ${model.tls.certDir}/_wildcard.pem;` : '';
  return `
# HTTPS: the certificate of each handshake, by its SNI name (one file per host).
map $ssl_server_name $silo_cert {
  hostnames;
  default ${model.tls.certDir}/$ssl_server_name.pem;${wildcard}
}
`;
}

function nginxTlsDirectives(model: ProxyModel): string {
  const tls = model.tls!;
  return [
    'ssl_certificate $silo_cert;',
    'ssl_certificate_key $silo_cert;',
    'ssl_protocols TLSv1.2 TLSv1.3;',
    'ssl_prefer_server_ciphers off;',
    'ssl_session_cache shared:silo_tls:10m;',
    'ssl_session_timeout 1h;',
    ...(tls.hsts > 0 ? [`add_header Strict-Transport-Security "max-age=${tls.hsts}" always;`] : []),
  ]
    .map((l) => `  ${l}`)
    .join('\n');
}

/** The HTTP listener when HTTPS is on: ACME challenges, redirects, 404. */
export function nginxHttpServer(model: ProxyModel): string {
  if (!model.tls) return '';
  const port = model.tls.port === 443 ? '' : `:${model.tls.port}`;
  return `
server {
  listen ${hostPort(model.listenHost, model.listenPort)} default_server reuseport;
  server_name _;
  ${nginxHostRoot(model)}
  default_type application/json;

  location ^~ /.well-known/acme-challenge/ {
    root ${model.tls.webroot};
    default_type text/plain;
    try_files $uri =404;
  }

  location / {
${nginxRouteCheck(model)}
    return 308 https://$host${port}$request_uri;
  }
}
`;
}
