/**
 * What the proxy needs to know, derived from the registry: a pure function, so the
 * renderers can be tested with fixtures.
 *
 * A tenant's worker listens on `<runDir>/<tenant>/http.sock` (src/common/run-dir.ts):
 * nginx derives that path from the host itself, so a tenant on `<name>.<domain>` with
 * the stack's default rate needs nothing in nginx's config, and creating or removing one
 * needs no reload. Only what differs from the default is rendered: extra domains and
 * other rates. Caddy has no such derivation and lists every tenant (its reload is an
 * atomic swap through its admin API).
 */
import type { Registry } from '../registry/registry.js';
import { tenantHosts } from '../common/names.js';
import { pageFor, type SuspendedPage } from './suspended.js';

export interface ProxyRoute {
  tenant: string;
  hosts: string[];
  /** set while the tenant is suspended: the proxy answers its hosts with this page */
  suspended?: SuspendedPage;
  /** requests per second its hosts get (rate-limit.ts); 0: no limit */
  rate: number;
}

export interface ProxyModel {
  listenHost: string;
  listenPort: number;
  /** the base domain: `<tenant>.<domain>` is a tenant's own host */
  domain: string;
  bodyLimitBytes: number;
  routes: ProxyRoute[];
  /** the stack's request rate per tenant (SILO_TENANT_RATE; 0: none) */
  defaultRate: number;
  /** where the tenants' socket folders are */
  runDir: string;
  /** the waker's socket: a tenant whose worker does not answer is woken (or waited for) through it */
  wakerSocket: string;
  /** where suspended tenants' page files are (nginx checks them per request) */
  suspendedDir?: string;
  /** under root: the unprivileged user (and its group) the proxy's workers run as */
  runAs?: { user: string; group: string };
  /** SILO_TLS=on: tenants are served on this HTTPS listener, HTTP redirects to it */
  tls?: ProxyTls;
  /** SILO_CONTROL_HOST: the control API's host and the socket the proxy sends it to */
  control?: ProxyControl;
  /**
   * Workers on other hosts (SILO_RUNTIME=swarm): each tenant's `address:port`s, the node
   * running its task first, then the other nodes' (tried when the first refuses: its task
   * moved, or its node died). Unset: every worker is on its Unix socket here.
   */
  remote?: Record<string, string[]>;
}

export interface ProxyControl {
  host: string;
  socket: string;
}

export interface ProxyTls {
  port: number;
  /** one bundle per host, `<host>.pem` (tls/store.ts) */
  certDir: string;
  /** the operator's wildcard for `*.<domain>` is `<certDir>/_wildcard.pem` */
  wildcard: boolean;
  /** Strict-Transport-Security max-age (0: none) */
  hsts: number;
  /** ACME HTTP-01 tokens, under `.well-known/acme-challenge/` */
  webroot: string;
  /** changes whenever a bundle does (Caddy loads the folder at a reload; nginx reads per handshake) */
  stamp: string;
  /**
   * SILO_ACME_DIRECTORY: nginx's certificates come from silo (tls/acme.ts) into certDir;
   * Caddy gets its own at a host's first handshake (on-demand TLS), asking `askPort` on
   * loopback (answered by Caddy itself, from the routes) whether the host is silo's.
   * `accountKey`: silo's ACME account (PEM, a secret) that Caddy uses instead of its own.
   */
  acme?: { directory: string; email?: string; caFile?: string; askPort: number; accountKey?: string };
}

export interface ProxyModelInput {
  domain: string;
  httpHost: string;
  httpPort: number;
  runDir: string;
  wakerSocket: string;
  bodyLimitBytes?: number;
  suspendedDir?: string;
  /** the stack's default request rate per tenant (SILO_TENANT_RATE) */
  tenantRate?: number;
  runAs?: { user: string; group: string };
  tls?: ProxyTls;
  control?: ProxyControl;
  remote?: Record<string, string[]>;
}

export function proxyModel(registry: Registry, input: ProxyModelInput, only?: (tenant: string) => boolean): ProxyModel {
  const routes = Object.entries(registry.tenants)
    .filter(([name, t]) => t.state === 'ready' && (!only || only(name)))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([tenant, t]) => ({
      tenant,
      hosts: tenantHosts(input, tenant, t),
      ...(t.suspended ? { suspended: pageFor(tenant, t.suspended) } : {}),
      rate: t.limits?.rate ?? input.tenantRate ?? 0,
    }));
  const clash = input.control && routes.find((r) => r.hosts.includes(input.control!.host));
  if (clash) throw new Error(`SILO_CONTROL_HOST ${input.control!.host} is tenant ${clash.tenant}'s host: choose another`);
  return {
    listenHost: input.httpHost,
    listenPort: input.httpPort,
    domain: input.domain,
    bodyLimitBytes: input.bodyLimitBytes ?? 65536,
    routes,
    defaultRate: input.tenantRate ?? 0,
    runDir: input.runDir,
    wakerSocket: input.wakerSocket,
    ...(input.suspendedDir ? { suspendedDir: input.suspendedDir } : {}),
    ...(input.runAs ? { runAs: input.runAs } : {}),
    ...(input.tls ? { tls: input.tls } : {}),
    ...(input.control ? { control: input.control } : {}),
    ...(input.remote ? { remote: input.remote } : {}),
  };
}
