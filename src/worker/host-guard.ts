/**
 * Second line of defence behind the proxy: a request whose Host is not one of this
 * tenant's names gets 421 Misdirected Request and no tenant data. The raw Host header is
 * used on purpose: Fastify's `request.host` follows X-Forwarded-Host when the proxy is
 * trusted, and a client-supplied header must never select (or pass for) a tenant.
 * A request line in absolute form (`GET http://other.example/api HTTP/1.1`) names its
 * host in the URI, which RFC 9112 3.2.2 puts above the Host header, and Fastify routes
 * it by its path: that host must be ours too, or a Host of ours could carry a request
 * for another tenant. Routes with `config: { skipHostGuard: true }` (health checks) are
 * exempt.
 */
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    skipHostGuard?: boolean;
  }
}

/** Lower case, without `:port` and one trailing dot; '' for anything unusable. */
export function normaliseHost(raw: string | undefined): string {
  if (!raw) return '';
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[')) return host; // IPv6 literal: never a tenant name
  const colon = host.indexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return '';
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/**
 * The host named by an absolute-form request target, '' when it names none we could
 * serve (userinfo, another scheme, unparsable), undefined for the usual origin form.
 */
export function requestTargetHost(url: string | undefined): string | undefined {
  if (!url || url.startsWith('/')) return undefined;
  const m = /^https?:\/\/([^/?#]*)/i.exec(url);
  if (!m || m[1]!.includes('@')) return '';
  return normaliseHost(m[1]);
}

function hostHeaderCount(rawHeaders: string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') n++;
  return n;
}

export const hostGuardPlugin = fp(
  async (fastify) => {
    const allowed = new Set(fastify.config.tenantHosts);
    fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.routeOptions.config.skipHostGuard === true) return;
      if (hostHeaderCount(request.raw.rawHeaders) > 1) {
        return reply.code(400).send(errorBody(400, 'exactly one Host header is required'));
      }
      const target = requestTargetHost(request.raw.url);
      if (!allowed.has(normaliseHost(request.raw.headers.host)) || (target !== undefined && !allowed.has(target))) {
        return reply.code(421).send(errorBody(421, 'this server does not serve that host'));
      }
    });
  },
  { name: 'host-guard', dependencies: ['config'], fastify: '5.x' },
);
