/** nginx's pieces of the per-tenant request rates (why and how: ../rate-limit.ts). */
import type { ProxyModel } from '../model.js';
import { TOO_MANY, rates } from '../rate-limit.js';

/** http level: per rate, a map from the tenant's name to its key, and a zone. */
export function nginxRateZones(model: ProxyModel): string {
  return rates(model)
    .map((rate) => {
      const isDefault = rate === model.defaultRate;
      // The default zone takes every tenant but those with another rate; another zone only its own.
      const lines = isDefault
        ? model.routes.filter((r) => r.rate !== rate).map((r) => `  ${r.tenant} "";`)
        : model.routes.filter((r) => r.rate === rate).map((r) => `  ${r.tenant} ${r.tenant};`);
      return `
# Tenants allowed ${rate} requests per second (${isDefault ? 'SILO_TENANT_RATE' : 'silo tenant create --rate'}).
map $silo_tenant $silo_rate_${rate} {
  default ${isDefault ? '$silo_tenant' : '""'};
${lines.join('\n')}
}
limit_req_zone $silo_rate_${rate} zone=silo_rate_${rate}:1m rate=${rate}r/s;`;
    })
    .join('\n');
}

/** The error_page line, wherever render.ts lists its own (server level, and `location /` when it has its own). */
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
