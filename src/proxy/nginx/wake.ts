/**
 * The wake path of the nginx config. A tenant whose worker does not take the connection
 * (asleep, starting, restarting after a reload, a deploy, a crash or its memory ceiling)
 * makes nginx answer 502, which `error_page 502 = @silo_wake` sends to a named location
 * (a named location keeps the method, and nginx keeps the request body it has
 * buffered). There the request goes, without its body, to the waker with the tenant's
 * name. The waker starts the worker or waits for PM2 to, until it is ready, and answers
 * `X-Accel-Redirect: @silo_replay`: nginx then sends the original request, body
 * included, to the tenant again. A failed wake is the waker's own 503 with Retry-After.
 * A 502 or 504 in either named location gets the usual JSON error page
 * (`recursive_error_pages`), never nginx's HTML one.
 *
 * The waker listens on a Unix socket only the proxy's user and root can reach; every
 * X-Silo-* header it reads is set here, a client's own never gets through.
 */
import type { ProxyModel } from '../model.js';
import { INTERNAL_HEADERS } from '../internal-headers.js';

export function renderNginxWakeHttp(model: ProxyModel): string {
  return `
upstream silo_waker {
  server unix:${model.wakerSocket} max_fails=0;
  keepalive 8;
}
`;
}

const SET_BY_PROXY: Record<string, string> = {
  'X-Silo-Tenant': '$silo_tenant',
  'X-Silo-Method': '$request_method',
  // "-" per attempt that was refused: the waker replays only what no worker received
  'X-Silo-Connect': '$upstream_connect_time',
};

export function renderNginxWakeLocations(tenantProxy: string): string {
  const headers = INTERNAL_HEADERS.map((h) => `    proxy_set_header ${h} ${SET_BY_PROXY[h] ?? '""'};`).join('\n');
  return `
  location @silo_wake {
    recursive_error_pages on;
    proxy_pass http://silo_waker;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header Connection "";
${headers}
    proxy_read_timeout 60s;
    proxy_intercept_errors off;
  }

  location @silo_replay {
    recursive_error_pages on;
${tenantProxy}
  }
`;
}
