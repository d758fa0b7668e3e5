/**
 * How nginx finds a request's tenant (render.ts for the rest of the config). A tenant's
 * own host `<name>.<domain>` by a pattern: a new tenant needs no line and no reload. A
 * customer's domain by a symlink `<run>/_hosts/<domain>` -> `../_routes/<name>`
 * (isolation/run-dirs.ts), read per request: the tenant's name is the last part of its
 * real path (`$realpath_root`, with the server's root there). So adding or removing a
 * domain never reloads nginx either: a reload closes every tenant's idle keep-alive
 * connections, and a request sent on one at that instant fails (seen as 1-2 "socket hang
 * up" in ~3,000 requests of a neighbour while a domain was added).
 */
import type { ProxyModel } from '../model.js';

const NOT_FOUND = '{"statusCode":404,"error":"Not Found","message":"no tenant serves this host"}';

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `$host` -> the tenant's name: its own host by pattern (`$silo_named`), else a customer
 * domain through its symlink (`$silo_domain_tenant`, only read once nginxRouteCheck found
 * the link: realpath of a missing path is an error).
 */
export function nginxTenantMap(model: ProxyModel): string {
  return `map $host $silo_named {
  default "";
  "~^([a-z][a-z0-9-]{0,30}[a-z0-9])\\.${escapeRegex(model.domain)}$" $1;
}
map $silo_named $silo_tenant {
  "" $silo_domain_tenant;
  default $silo_named;
}
map $realpath_root $silo_domain_tenant {
  default "";
  "~/_routes/([a-z0-9-]+)$" $1;
}`;
}

/** server level: where \`$realpath_root\` looks for a customer domain's link. */
export const nginxHostRoot = (model: ProxyModel) => `root ${model.runDir}/_hosts/$host;`;

/**
 * The start of a tenant's location: a host that is no routed tenant's is 404 here, and
 * nginx never falls through to a tenant. One stat: the route file of a tenant's own host,
 * or a domain's link (which follows to the same file: dangling, it is no route).
 */
export function nginxRouteCheck(model: ProxyModel, indent = '    '): string {
  return [
    `set $silo_route ${model.runDir}/_routes/$silo_named;`,
    'if ($silo_named = "") {',
    `  set $silo_route ${model.runDir}/_hosts/$host;`,
    '}',
    'if (!-f $silo_route) {',
    `  return 404 '${NOT_FOUND}';`,
    '}',
  ]
    .map((l) => indent + l)
    .join('\n');
}
