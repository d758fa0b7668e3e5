/**
 * Renders the tenant part of the nginx configuration. One server block for all tenants.
 * How a host finds its tenant (and why no tenant or domain change reloads nginx):
 * routes.ts. The
 * request goes to `unix:<run>/<name>/http.sock`; a name without a route file
 * (`<run>/_routes/<name>`, written once its worker has started) is no tenant, and the
 * proxy answers 404 itself: it never falls through to a tenant. A
 * folder without a listening socket (a worker starting, restarting, asleep) is a 502,
 * which the wake path turns into a wait (wake.ts).
 *
 * `$silo_upstream` (pool.conf, pool.ts) names the tenant's keep-alive upstream when nginx
 * knew the tenant at its last reload, else the same socket derived per request.
 */
import type { ProxyModel } from '../model.js';
import { nginxRateLimitErrorPage, nginxRateLimitPage, nginxRateLimits, nginxRateZones } from './rate-limit.js';
import { nginxSuspendedCheck, nginxSuspendedLocations, nginxSuspendedMaps } from './suspended.js';
import { renderNginxWakeHttp, renderNginxWakeLocations } from './wake.js';
import { nginxCertMap, nginxHttpServer, nginxTenantListen } from './tls.js';
import { nginxHostRoot, nginxRouteCheck, nginxTenantMap } from './routes.js';
import { CLEARED_FORWARDING, INTERNAL_HEADERS } from '../internal-headers.js';
import { nginxControlServer } from './control.js';

/** Errors nginx produces itself get the same JSON shape as the workers' (not nginx's HTML). */
const OWN_ERRORS: [number, string, string][] = [
  [400, 'Bad Request', 'the request is malformed'],
  [408, 'Request Timeout', 'the request took too long to arrive'],
  [413, 'Payload Too Large', 'the request body is too large'],
  [414, 'URI Too Long', 'the request URI is too long'],
  [502, 'Bad Gateway', 'the tenant is not answering'],
  [504, 'Gateway Timeout', 'the tenant did not answer in time'],
];

/** The error_page lines; `wake`: a tenant that does not answer (502) goes to the waker instead. */
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

/** Every internal header emptied (nginx then leaves it out), the forwarding ones set from the peer. */
export function nginxHeaderHygiene(): string[] {
  return [
    ...INTERNAL_HEADERS.map((h) => `proxy_set_header ${h} "";`),
    ...CLEARED_FORWARDING.map((h) => `proxy_set_header ${h} "";`),
    'proxy_set_header X-Forwarded-For $remote_addr;',
    'proxy_set_header X-Forwarded-Host $host;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'proxy_set_header X-Real-IP $remote_addr;',
  ];
}

/** How a request goes to its tenant's worker (the first time, and again after a wake). */
function tenantProxyDirectives(model: ProxyModel, indent: string): string {
  return [
    // The tenant's socket (only [a-z0-9-] reach the path), pooled or derived (pool.ts).
    'proxy_pass http://$silo_upstream;',
    'proxy_set_header Connection "";',
    'proxy_set_header Host $host;',
    ...nginxHeaderHygiene(),
    // One socket per tenant, nothing to try next: a refused connection is the wake path's.
    // Workers on other hosts: a refused or timed-out connection tries the next node
    // (a request already sent is not repeated unless idempotent: nginx's default).
    ...(model.remote ? ['proxy_next_upstream error timeout;', 'proxy_connect_timeout 2s;'] : ['proxy_next_upstream off;']),
    'proxy_intercept_errors off;',
  ]
    .map((l) => indent + l)
    .join('\n');
}



/** The main-context line nginx.conf starts with under root: its workers run unprivileged. */
export function nginxUserLine(model: ProxyModel): string {
  return model.runAs ? `user ${model.runAs.user} ${model.runAs.group};\n` : '';
}

export function renderNginx(model: ProxyModel): string {
  return `# Rendered by silo from the registry. Do not edit: run silo commands instead.
include pool.conf;
${renderNginxWakeHttp(model)}
${nginxTenantMap(model)}
${nginxSuspendedMaps(model)}${nginxRateZones(model)}${nginxCertMap(model)}
server {
  ${nginxTenantListen(model)}
  server_name _;
  ${nginxHostRoot(model)}
  client_max_body_size ${model.bodyLimitBytes};

  default_type application/json;
${errorPages(model)}
${nginxSuspendedLocations(model)}
${nginxRateLimitPage(model)}

  location / {
${nginxRouteCheck(model)}
${nginxSuspendedCheck(model)}
${nginxRateLimits(model)}
${tenantProxyDirectives(model, '    ')}
${errorPageLines(model, true).map((l) => `    ${l}`).join('\n')}
  }
${renderNginxWakeLocations(tenantProxyDirectives(model, '    '))}}
${nginxHttpServer(model)}${nginxControlServer(model)}`;
}
