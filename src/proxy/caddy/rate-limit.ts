/** Caddy's piece of the per-tenant request rates (why there is no more: ../rate-limit.ts). */
import type { ProxyModel } from '../model.js';
import { rated } from '../rate-limit.js';

/** Caddy: the stated gap, as a comment in the rendered file. */
export function caddyRateLimitNote(model: ProxyModel): string {
  return rated(model).length ? '# Request rates (silo tenant create --rate) are not enforced by Caddy: it has no rate-limit module.\n' : '';
}
