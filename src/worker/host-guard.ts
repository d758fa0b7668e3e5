/**
 * Second line of defence behind the proxy: a request whose Host is not one of this
 * tenant's names gets 421 Misdirected Request and no tenant data. The raw Host header is
 * used on purpose: Fastify's `request.host` follows X-Forwarded-Host when the proxy is
 * trusted, and a client-supplied header must never select (or pass for) a tenant.
 * Routes with `config: { skipHostGuard: true }` (health checks) are exempt.
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
      if (!allowed.has(normaliseHost(request.raw.headers.host))) {
        return reply.code(421).send(errorBody(421, 'this server does not serve that host'));
      }
    });
  },
  { name: 'host-guard', dependencies: ['config'], fastify: '5.x' },
);
