/**
 * The hibernation part of the Caddyfile. A hibernated tenant's worker refuses the
 * connection; Caddy's error routes then ask the waker (as a GET without a body, with the
 * tenant's name) and, on its 204, send the request to the tenant again
 * (`handle_response`). Gap, measured on Caddy 2.6: after a failed attempt Caddy has
 * closed the request body, so a request with a body cannot be sent again; the waker
 * answers those 503 with `Retry-After: 1` once the tenant is awake (nginx replays them).
 */
import type { ProxyModel } from '../model.js';
import { caddyHeaderHygiene, tenantReverseProxy } from './render.js';

export function renderCaddyWake(model: ProxyModel): string {
  return model.routes
    .filter((r) => !r.suspended)
    .map(
      (r) => `		@wake_${r.tenant} {
			host ${r.hosts.join(' ')}
			expression {err.status_code} == 502
		}
		handle @wake_${r.tenant} {
			reverse_proxy unix/${model.wakerSocket} {
				method GET
${caddyHeaderHygiene(['X-Silo-Tenant', 'X-Silo-Method', 'X-Silo-Body']).map((l) => `\t\t\t\t${l}`).join('\n')}
				header_up X-Silo-Tenant ${r.tenant}
				header_up X-Silo-Method {http.request.orig_method}
				header_up X-Silo-Body {http.request.header.Content-Length}{http.request.header.Transfer-Encoding}
				@woke status 204
				handle_response @woke {
${tenantReverseProxy(model, r, '\t\t\t\t\t')}
				}
			}
		}
`,
    )
    .join('');
}
