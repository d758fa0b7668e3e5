/**
 * The hibernation part of the nginx config. A hibernated tenant's worker refuses the
 * connection; nginx turns that into a 502, which `error_page 502 = @silo_wake` sends to
 * a named location (a named location keeps the method, and nginx keeps the request body
 * it has buffered). There the request goes, without its body, to the waker with the
 * tenant's name. The waker starts the worker, waits until it is ready and answers
 * `X-Accel-Redirect: @silo_replay`: nginx then sends the original request, body
 * included, to the tenant again. A failed wake is the waker's own 503 with Retry-After.
 * A 502 or 504 in either named location gets the usual JSON error page
 * (`recursive_error_pages`), never nginx's HTML one.
 */
import type { ProxyModel } from '../model.js';

export function renderNginxWakeHttp(model: ProxyModel): string {
  const names = model.routes.flatMap((r) => r.hosts.map((h) => `  ${h} ${r.tenant};`));
  return `
upstream silo_waker {
  server 127.0.0.1:${model.wakerPort} max_fails=0;
  keepalive 8;
}

map $host $silo_tenant {
  hostnames;
  default "";
${names.join('\n')}
}
`;
}

export function renderNginxWakeLocations(tenantProxy: string): string {
  return `
  location @silo_wake {
    recursive_error_pages on;
    proxy_pass http://silo_waker;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header Connection "";
    proxy_set_header X-Silo-Tenant $silo_tenant;
    # "-" per attempt that was refused: the waker replays only what no worker received
    proxy_set_header X-Silo-Connect $upstream_connect_time;
    proxy_set_header X-Silo-Body "";
    proxy_read_timeout 60s;
    proxy_intercept_errors off;
  }

  location @silo_replay {
    recursive_error_pages on;
${tenantProxy}
  }
`;
}
