/**
 * Per-tenant request rates at the proxy: what both kinds share lives in this file, each
 * kind's config pieces in its own folder (nginx/rate-limit.ts, caddy/rate-limit.ts), which
 * its renderer calls at one place.
 *
 * nginx: one `limit_req_zone` per distinct rate (not per tenant: a shared-memory zone
 * each would cost a thousand tenants a thousand zones), keyed by the tenant's name, which
 * a map sets only for the tenants with that rate, so each tenant has its own bucket. The
 * stack's default rate applies to every tenant not listed with another one, so a new
 * tenant with the default rate changes nothing in nginx's config (no reload).
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
import type { ProxyModel } from './model.js';

export const TOO_MANY = '{"statusCode":429,"error":"Too Many Requests","message":"this tenant sends more requests than its rate allows; retry later"}';

export const rated = (model: ProxyModel) => model.routes.filter((r) => r.rate > 0);
/** Every rate in use: the stack's default (when set) and each tenant's own. */
export const rates = (model: ProxyModel) => [...new Set([...(model.defaultRate > 0 ? [model.defaultRate] : []), ...rated(model).map((r) => r.rate)])].sort((a, b) => a - b);
