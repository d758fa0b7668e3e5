/** nginx's pieces of a suspended tenant's 503 (the pages themselves: ../suspended.ts). */
import type { ProxyModel } from '../model.js';
import { OPERATION_RETRY_AFTER, OPERATOR_RETRY_AFTER } from '../suspended.js';

// nginx: the config does not change when a tenant is suspended or resumed, so nginx is
// never reloaded for it (a reload closes every tenant's idle keep-alive connections, and
// a request sent on one at that instant fails). A tenant is suspended while its page
// file exists in `suspendedDir` (writeSuspendedPages): two stat() calls per request.

export function nginxSuspendedMaps(model: ProxyModel): string {
  if (!model.suspendedDir) return '';
  return `
# Suspended tenants (silo tenant suspend, restore, move): the proxy answers 503 itself
# while ${model.suspendedDir}/<tenant>.json exists.
map $http_accept $silo_page {
  default json;
  "~*text/html" html;
}
`;
}

export function nginxSuspendedCheck(model: ProxyModel): string {
  if (!model.suspendedDir) return '';
  const dir = model.suspendedDir;
  return `    set $silo_retry_after ${OPERATOR_RETRY_AFTER};
    if (-f ${dir}/$silo_tenant.soon) {
      set $silo_retry_after ${OPERATION_RETRY_AFTER};
    }
    if (-f ${dir}/$silo_tenant.$silo_page) {
      rewrite ^ /_silo_suspended last;
    }`;
}

export function nginxSuspendedLocations(model: ProxyModel): string {
  if (!model.suspendedDir) return '';
  // The 503 comes from an error_page of this location's own (one in \`location /\` or the
  // server would change which error pages the other locations inherit); its body is the
  // tenant's page file, served by the next location.
  return `  location = /_silo_suspended {
    internal;
    error_page 599 =503 /_silo_suspended_page/$silo_tenant.$silo_page;
    return 599;
  }
  location ^~ /_silo_suspended_page/ {
    internal;
    alias ${model.suspendedDir}/;
    types {
      application/json json;
      text/html html;
    }
    charset utf-8;
    etag off;
    add_header Retry-After $silo_retry_after always;
    add_header Cache-Control "no-store" always;
  }`;
}
