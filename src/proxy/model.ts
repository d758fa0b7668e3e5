/**
 * What the proxy needs to know, derived from the registry: a pure function, so the
 * renderers can be tested with fixtures.
 */
import type { Registry } from '../registry/registry.js';
import { tenantHosts } from '../common/names.js';
import { pageFor, type SuspendedPage } from './suspended.js';

export interface ProxyRoute {
  tenant: string;
  hosts: string[];
  port: number;
  /** set while the tenant is suspended: the proxy answers its hosts with this page */
  suspended?: SuspendedPage;
  /** requests per second its hosts get (rate-limit.ts); 0 or unset: no limit */
  rate?: number;
}

export interface ProxyModel {
  listenHost: string;
  listenPort: number;
  bodyLimitBytes: number;
  routes: ProxyRoute[];
  /** the waker's loopback port: a tenant whose worker refuses connections is woken through it */
  wakerPort?: number;
  /** where suspended tenants' page files are (nginx checks them per request) */
  suspendedDir?: string;
}

export interface ProxyModelInput {
  domain: string;
  httpHost: string;
  httpPort: number;
  bodyLimitBytes?: number;
  wakerPort?: number;
  suspendedDir?: string;
  /** the stack's default request rate per tenant (SILO_TENANT_RATE) */
  tenantRate?: number;
}

const rateOf = (rate: number) => (rate > 0 ? { rate } : {});

export function proxyModel(registry: Registry, input: ProxyModelInput, only?: (tenant: string) => boolean): ProxyModel {
  const routes = Object.entries(registry.tenants)
    .filter(([name, t]) => t.state === 'ready' && (!only || only(name)))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([tenant, t]) => ({
      tenant,
      port: t.port,
      hosts: tenantHosts(input, tenant, t),
      ...(t.suspended ? { suspended: pageFor(tenant, t.suspended) } : {}),
      ...rateOf(t.limits?.rate ?? input.tenantRate ?? 0),
    }));
  return {
    listenHost: input.httpHost,
    listenPort: input.httpPort,
    bodyLimitBytes: input.bodyLimitBytes ?? 65536,
    routes,
    ...(input.wakerPort ? { wakerPort: input.wakerPort } : {}),
    ...(input.suspendedDir ? { suspendedDir: input.suspendedDir } : {}),
  };
}

