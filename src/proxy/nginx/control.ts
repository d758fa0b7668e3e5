/**
 * SILO_CONTROL_HOST: the control API through nginx, on its own host (a server block by exact
 * name, so it wins over the tenants' catch-all; the admin host is never a tenant's). The
 * control app listens for the proxy on a socket in the proxy's folder (root and the proxy's
 * group only); its bearer tokens are checked there as on its own socket. With HTTPS the
 * host's HTTP port redirects to it, as a tenant's does.
 */
import type { ProxyModel } from '../model.js';
import { nginxHeaderHygiene } from './render.js';

const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

export function nginxControlServer(model: ProxyModel): string {
  const c = model.control;
  if (!c) return '';
  const proxy = [
    `proxy_pass http://unix:${c.socket}:;`,
    'proxy_http_version 1.1;',
    'proxy_set_header Connection "";',
    'proxy_set_header Host $host;',
    ...nginxHeaderHygiene(),
  ]
    .map((l) => `    ${l}`)
    .join('\n');
  const https = model.tls
    ? `
server {
  listen ${hostPort(model.listenHost, model.listenPort)};
  server_name ${c.host};
  return 308 https://$host${model.tls.port === 443 ? '' : `:${model.tls.port}`}$request_uri;
}
`
    : '';
  const listen = model.tls
    ? `listen ${hostPort(model.listenHost, model.tls.port)} ssl http2;
  ssl_certificate $silo_cert;
  ssl_certificate_key $silo_cert;
  ssl_protocols TLSv1.2 TLSv1.3;`
    : `listen ${hostPort(model.listenHost, model.listenPort)};`;
  return `
# The control API (SILO_CONTROL_HOST).
server {
  ${listen}
  server_name ${c.host};
  client_max_body_size 65536;
  location / {
${proxy}
  }
}
${https}`;
}
