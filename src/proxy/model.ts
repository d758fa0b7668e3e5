/**
 * What the proxy needs to know, derived from the registry: a pure function, so the
 * renderers can be tested with fixtures.
 */
import type { Registry } from '../registry/registry.js';
import { tenantHosts } from '../common/names.js';

export interface ProxyRoute {
  tenant: string;
  hosts: string[];
  port: number;
}

export interface ProxyModel {
  listenHost: string;
  listenPort: number;
  bodyLimitBytes: number;
  routes: ProxyRoute[];
}

export interface ProxyModelInput {
  domain: string;
  httpHost: string;
  httpPort: number;
  bodyLimitBytes?: number;
}

export function proxyModel(registry: Registry, input: ProxyModelInput, only?: (tenant: string) => boolean): ProxyModel {
  const routes = Object.entries(registry.tenants)
    .filter(([name, t]) => t.state === 'ready' && (!only || only(name)))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([tenant, t]) => ({ tenant, port: t.port, hosts: tenantHosts(input, tenant, t) }));
  return {
    listenHost: input.httpHost,
    listenPort: input.httpPort,
    bodyLimitBytes: input.bodyLimitBytes ?? 65536,
    routes,
  };
}
