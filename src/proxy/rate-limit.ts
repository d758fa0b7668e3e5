/**
 * Per-tenant request rates at the proxy. Everything about them lives in this file;
 * nginx.ts and caddy.ts each call it at one place.
 *
 * nginx: one `limit_req_zone` per distinct rate (not per tenant: a shared-memory zone
 * each would cost a thousand tenants a thousand zones), keyed by the tenant's name, which
 * a map sets only for the tenants with that rate, so each tenant has its own bucket.
 * Requests beyond the rate (after a tenth of a second's worth let through at once) wait
 * in nginx, up to one second's worth of them, and go on at the rate; beyond that queue the proxy answers 429 in the JSON error shape with
 * `Retry-After: 1`, without touching the worker. Waiting rather than refusing at once
 * matters: a client that sends its next request when the last one is answered (most
 * load, legitimate or not) is slowed to the rate instead of being handed cheap 429s as
 * fast as nginx can write them, which measured 22k/s and took the CPU its neighbours
 * needed (test/resilience/noisy-neighbour.test.ts).
 *
 * Caddy 2.6 as Debian ships it has no request-rate module (rate limiting is the
 * third-party caddy-ratelimit plugin): with SILO_PROXY=caddy tenants have no request
 * rate ceiling, said in the rendered file and in the README; their CPU limits still apply.
 */
import type { ProxyModel, ProxyRoute } from './model.js';

export const TOO_MANY = '{"statusCode":429,"error":"Too Many Requests","message":"this tenant sends more requests than its rate allows; retry later"}';

const rated = (model: ProxyModel) => model.routes.filter((r) => (r.rate ?? 0) > 0);
const rates = (model: ProxyModel) => [...new Set(rated(model).map((r) => r.rate!))].sort((a, b) => a - b);
const keyOf = (r: ProxyRoute) => r.tenant.replace(/-/g, '_');

/** http level: per rate, a map from the tenant's upstream to its key, and a zone. */
export function nginxRateZones(model: ProxyModel): string {
  return rates(model)
    .map(
      (rate) => `
# Tenants allowed ${rate} requests per second (silo tenant create --rate).
map $silo_upstream $silo_rate_${rate} {
  default "";
${rated(model)
  .filter((r) => r.rate === rate)
  .map((r) => `  tenant_${keyOf(r)} ${keyOf(r)};`)
  .join('\n')}
}
limit_req_zone $silo_rate_${rate} zone=silo_rate_${rate}:1m rate=${rate}r/s;`,
    )
    .join('\n');
}

/** The error_page line, wherever nginx.ts lists its own (server level, and `location /` when it has its own). */
export function nginxRateLimitErrorPage(model: ProxyModel): string[] {
  return rates(model).length ? ['error_page 429 /_silo_error/429;'] : [];
}

/** server level: the 429 page. */
export function nginxRateLimitPage(model: ProxyModel): string {
  if (rates(model).length === 0) return '';
  return `  location = /_silo_error/429 {
    internal;
    add_header Retry-After 1 always;
    return 429 '${TOO_MANY}';
  }`;
}

/** `location /`: one limit per zone; a tenant outside a zone has an empty key there and passes it. */
export function nginxRateLimits(model: ProxyModel, indent = '    '): string {
  const r = rates(model);
  if (r.length === 0) return '';
  return [
    // A tenth of a second's worth above the rate passes at once (no added latency for a
    // busy tenant's bursts), the rest of a second's worth waits its turn, then 429.
    ...r.map((rate) => `limit_req zone=silo_rate_${rate} burst=${rate} delay=${Math.ceil(rate / 10)};`),
    'limit_req_status 429;',
    'limit_req_log_level info;',
  ]
    .map((l) => indent + l)
    .join('\n');
}

/** Caddy: the stated gap, as a comment in the rendered file. */
export function caddyRateLimitNote(model: ProxyModel): string {
  return rated(model).length ? '# Request rates (silo tenant create --rate) are not enforced by Caddy: it has no rate-limit module.\n' : '';
}
