/**
 * Renders the tenant part of the nginx configuration. One server block for all tenants:
 * a `map` from the normalised `$host` to a named upstream (keep-alive needs a named
 * upstream; a map to an address would make an implicit one without it). A Host that
 * no tenant owns maps to "" and the proxy answers 404 itself: it never falls through
 * to a tenant.
 */
import type { ProxyModel } from '../model.js';
import { nginxRateLimitErrorPage, nginxRateLimitPage, nginxRateLimits, nginxRateZones } from './rate-limit.js';
import { nginxSuspendedCheck, nginxSuspendedLocations, nginxSuspendedMaps } from './suspended.js';
import { renderNginxWakeHttp, renderNginxWakeLocations } from './wake.js';

const NOT_FOUND = '{"statusCode":404,"error":"Not Found","message":"no tenant serves this host"}';

/** Errors nginx produces itself get the same JSON shape as the workers' (not nginx's HTML). */
const OWN_ERRORS: [number, string, string][] = [
  [400, 'Bad Request', 'the request is malformed'],
  [408, 'Request Timeout', 'the request took too long to arrive'],
  [413, 'Payload Too Large', 'the request body is too large'],
  [414, 'URI Too Long', 'the request URI is too long'],
  [502, 'Bad Gateway', 'the tenant is not answering'],
  [504, 'Gateway Timeout', 'the tenant did not answer in time'],
];

/** The error_page lines; `wake`: a refused tenant (502) goes to the waker instead. */
function errorPageLines(model: ProxyModel, wake = false): string[] {
  // URI locations, not named ones: a request whose request line nginx rejected (a %00
  // in the path) has no URI to carry into a named location and would end as a 500.
  return [
    ...OWN_ERRORS.map(([code]) => (wake && code === 502 ? `error_page 502 = @silo_wake;` : `error_page ${code === 400 ? '400 494' : code} /_silo_error/${code};`)),
    ...nginxRateLimitErrorPage(model),
  ];
}

function errorPages(model: ProxyModel): string {
  const locations = OWN_ERRORS.map(
    ([code, error, message]) => `  location = /_silo_error/${code} {
    internal;
    return ${code} '{"statusCode":${code},"error":"${error}","message":"${message}"}';
  }`,
  );
  return [...errorPageLines(model).map((l) => `  ${l}`), ...locations].join('\n');
}

/** How a request goes to its tenant's upstream (the first time, and again after a wake). */
function tenantProxyDirectives(indent: string): string {
  return `proxy_pass http://$silo_upstream;
proxy_set_header Connection "";
proxy_set_header Host $host;
proxy_set_header X-Forwarded-For $remote_addr;
proxy_set_header X-Forwarded-Host $host;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Real-IP $remote_addr;
proxy_next_upstream error timeout http_503 non_idempotent;
proxy_next_upstream_tries 2;
# Only a quick failure is retried: a closing worker's 503 or a dropped connection
# come at once. A worker's own 503 after its timeouts (database down or hung) must
# not be sent again: twice the wait, and a POST whose query may still commit.
proxy_next_upstream_timeout 1s;
proxy_intercept_errors off;`
    .split('\n')
    .map((l) => indent + l)
    .join('\n');
}

function listen(model: ProxyModel): string {
  const host = model.listenHost.includes(':') ? `[${model.listenHost}]` : model.listenHost;
  return `${host}:${model.listenPort}`;
}

export function renderNginx(model: ProxyModel): string {
  const upstreams = model.routes.map(
    (r) => `upstream tenant_${r.tenant.replace(/-/g, '_')} {
  # The same worker twice: a request refused by a worker that is shutting down during a
  # reload (503 before it was processed) or a dropped keep-alive connection is retried
  # once on a fresh connection, which PM2 already routes to the new worker.
  server 127.0.0.1:${r.port} max_fails=0;
  server 127.0.0.1:${r.port} max_fails=0 backup;
  keepalive 32;
  keepalive_timeout 50s;
}`,
  );
  const wake = model.wakerPort !== undefined;
  const mapLines = model.routes.flatMap((r) => r.hosts.map((h) => `  ${h} tenant_${r.tenant.replace(/-/g, '_')};`));
  return `# Rendered by silo from the registry. Do not edit: run silo commands instead.
${upstreams.join('\n\n')}
${wake ? renderNginxWakeHttp(model) : ''}
map $host $silo_upstream {
  hostnames;
  default "";
${mapLines.join('\n')}
}
${nginxSuspendedMaps(model)}${nginxRateZones(model)}
server {
  listen ${listen(model)} default_server reuseport;
  server_name _;
  client_max_body_size ${model.bodyLimitBytes};

  default_type application/json;
${errorPages(model)}
${nginxSuspendedLocations(model)}
${nginxRateLimitPage(model)}

  location / {
${nginxSuspendedCheck(model)}
    if ($silo_upstream = "") {
      return 404 '${NOT_FOUND}';
    }
${nginxRateLimits(model)}
${tenantProxyDirectives('    ')}
${wake ? errorPageLines(model, true).map((l) => `    ${l}`).join('\n') + '\n' : ''}  }
${wake ? renderNginxWakeLocations(tenantProxyDirectives('    ')) : ''}}
`;
}
