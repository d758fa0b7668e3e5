/**
 * Upstream keep-alive for nginx, in a file of its own (`pool.conf`). nginx keeps
 * connections to a worker only through a named `upstream` block with `keepalive`; a
 * socket path derived per request (`unix:<run>/$silo_tenant/http.sock:`) is an implicit
 * upstream that connects and closes once per request, which costs the worker an accept
 * and a new HTTP connection each time (GET /api/polls through nginx at a third of the
 * direct rate instead of three quarters: `BENCH_ONLY=proxy npm run bench`).
 *
 * So every tenant known when the file is rendered gets a named upstream on its fixed
 * socket path, and `$silo_upstream` maps the tenant to it; any other name maps to the
 * derived path, as before. The socket path is the same either way (the tenant's own
 * folder), and each upstream's idle connections serve that tenant only.
 *
 * Creating or removing a tenant must not reload nginx (a reload resets clients' idle
 * keep-alive connections), so the driver installs this file without a reload when it is
 * all that changed (`deferred` in ../driver.ts): nginx reads it at its next start or
 * reload, and a tenant created in between is proxied on the derived path meanwhile. A
 * removed tenant's upstream left in the running config is never used: its route file is
 * gone, so its hosts get the proxy's 404 first.
 */
import type { ProxyModel } from '../model.js';

/** Upstream names for tenant names ([a-z0-9-]: `-` becomes `_`, one to one). */
export const nginxPoolName = (tenant: string) => `silo_pool_${tenant.replace(/-/g, '_')}`;

/**
 * Idle connections each nginx worker keeps per tenant. Above the concurrency one busy
 * tenant sees in practice; idle ones close after keepalive_timeout, below the worker's own
 * keep-alive timeout (65 s, src/worker/app.ts), so nginx closes first.
 */
const KEEPALIVE = 32;
const KEEPALIVE_TIMEOUT = '50s';

/**
 * Workers on other hosts: the node running the task, then the others as backups (model.ts).
 * One failed attempt does not take the node out (a keep-alive connection its worker closed
 * as nginx reused it is retried, and with the node out every request went to backups that
 * refuse: 502s for seconds); three within 2 s do (a dead node: its connects time out). A
 * backup is never taken out: refusing is what all but one of them do.
 */
function renderRemotePool(model: ProxyModel, remote: Record<string, string[]>): string {
  const tenants = model.routes.map((r) => r.tenant).filter((t) => (remote[t] ?? []).length > 0);
  const upstreams = tenants.map(
    (t) => `upstream ${nginxPoolName(t)} {
${remote[t]!.map((a, i) => `  server ${a} ${i === 0 ? 'max_fails=3 fail_timeout=2s' : 'max_fails=0 backup'};`).join('\n')}
  keepalive ${KEEPALIVE};
  keepalive_timeout ${KEEPALIVE_TIMEOUT};
}`,
  );
  return `# Rendered by silo from the registry and the swarm's tasks. Do not edit: run silo commands instead.
# Each tenant's worker on the node running it, the other nodes as backups (src/proxy/nginx/pool.ts).
${upstreams.join('\n')}
map $silo_tenant $silo_upstream {
  default "unix:${model.runDir}/$silo_tenant/http.sock:";
${tenants.map((t) => `  ${t} ${nginxPoolName(t)};`).join('\n')}
}
`;
}

export function renderNginxPool(model: ProxyModel): string {
  if (model.remote) return renderRemotePool(model, model.remote);
  const tenants = model.routes.map((r) => r.tenant);
  const upstreams = tenants.map(
    (t) => `upstream ${nginxPoolName(t)} {
  server unix:${model.runDir}/${t}/http.sock max_fails=0;
  keepalive ${KEEPALIVE};
  keepalive_timeout ${KEEPALIVE_TIMEOUT};
}`,
  );
  return `# Rendered by silo from the registry. Do not edit: run silo commands instead.
# Keep-alive upstreams of the tenants known at the last render (src/proxy/nginx/pool.ts).
${upstreams.join('\n')}
map $silo_tenant $silo_upstream {
  default "unix:${model.runDir}/$silo_tenant/http.sock:";
${tenants.map((t) => `  ${t} ${nginxPoolName(t)};`).join('\n')}
}
`;
}
