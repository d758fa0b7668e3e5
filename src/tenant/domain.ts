/**
 * `silo tenant domain add|remove <tenant> <host>`: a customer's own domain, any time. A
 * domain belongs to one tenant at most (the same rule as `tenant create --domain`, which
 * records domains the same way). The steps, under the tenant's lock and the registry's:
 *
 *   add:    record     the host in the tenant's entry (refused if another tenant has it)
 *           worker     a running worker reloads with its new host list (its host check
 *                      would answer the new host 421 otherwise); PM2 starts the new process
 *                      before the old one goes, the waker holds requests meanwhile
 *           route      the proxy config from the registry (the host's certificate first:
 *                      proxy/tls/store.ts), reloaded gracefully if it changed
 *           wait       the host answers through the proxy
 *           certificate ACME: one for the host now (proxy/tls/acme.ts), unless the proxy
 *                      gets its own at the first handshake (Caddy)
 *   remove: record, route (the host leaves the proxy, its certificate is deleted), wait
 *           (it answers 404), worker (the reloaded worker no longer accepts it).
 *
 * Every step is idempotent: a command killed anywhere is completed by running it again.
 */
import type { SiloConfig } from '../common/config.js';
import { isDomainName, normaliseHostName, tenantHosts } from '../common/names.js';
import { SiloError } from '../common/errors.js';
import { readRegistry, tenantEntry, writeRegistry, type Registry } from '../registry/registry.js';
import { driverFor, probeProxy, stackIsUp, syncProxy, waitUnrouted } from '../stack/live.js';
import { waitFor } from '../common/http-probe.js';
import { runSteps, type Step } from '../common/steps.js';
import { runtimeFor } from '../runtime/select.js';
import { sleepsOnPurpose } from '../hibernate/state.js';
import { certificateOf, type CertState } from '../proxy/tls/store.js';
import { obtainCertificate } from '../proxy/tls/acme.js';
import { onTenant, type TenantOperation } from './operation.js';

interface Ctx {
  op: TenantOperation;
  host: string;
  live: boolean;
  changed: boolean;
}

/** One line for a host that cannot be a customer's domain. */
export function checkDomain(cfg: SiloConfig, raw: string): string {
  const host = normaliseHostName(String(raw ?? ''));
  if (!isDomainName(host)) throw new SiloError(`invalid domain "${String(raw).slice(0, 80)}": use a host name such as shop.example.com`);
  if (cfg.control && host === cfg.controlHost) throw new SiloError(`invalid domain "${host}": it is the control API's host (SILO_CONTROL_HOST)`);
  if (host === cfg.domain || host.endsWith(`.${cfg.domain}`)) {
    throw new SiloError(`invalid domain "${host}": names under ${cfg.domain} are the tenants' own (<tenant>.${cfg.domain})`);
  }
  return host;
}

/** The tenant that serves `host`, if any. */
export function ownerOf(cfg: SiloConfig, reg: Registry, host: string): string | undefined {
  return Object.entries(reg.tenants).find(([name, t]) => tenantHosts(cfg, name, t).includes(host))?.[0];
}

async function reloadWorker(c: Ctx): Promise<void> {
  const { cfg, name } = c.op;
  if (!c.live || sleepsOnPurpose(cfg.home, name)) return; // a sleeping worker starts with its new hosts
  const runtime = runtimeFor(cfg);
  if (!(await runtime.workers()).get(name)?.online) return;
  const reg = c.op.refresh();
  if (!reg.tenants[name]) return;
  await runtime.reload(cfg, reg, name);
  await runtime.waitReady(cfg, name);
}

async function route(c: Ctx): Promise<void> {
  c.live = await stackIsUp();
  await syncProxy(c.op.cfg, c.op.refresh(), c.live);
}

const addSteps: Step<Ctx>[] = [
  {
    name: 'record',
    run(c) {
      const reg = c.op.refresh();
      const owner = ownerOf(c.op.cfg, reg, c.host);
      if (owner && owner !== c.op.name) throw new SiloError(`domain "${c.host}" already belongs to tenant "${owner}"`);
      const t = tenantEntry(reg, c.op.name);
      if (t.state !== 'ready') throw new SiloError(`tenant "${c.op.name}" is ${t.state}: finish that first`);
      if (t.domains.includes(c.host)) return;
      t.domains = [...t.domains, c.host];
      writeRegistry(c.op.paths.registry, reg);
      c.changed = true;
    },
  },
  { name: 'worker', async run(c) { c.live = await stackIsUp(); await reloadWorker(c); } },
  { name: 'route', run: route },
  {
    name: 'wait',
    async run(c) {
      if (!c.live || c.op.refresh().tenants[c.op.name]?.suspended) return;
      // A proxy that obtains the host's certificate in this first handshake (ACME on demand)
      // is allowed that long, and the probe waits in the handshake as a browser would
      // rather than start another.
      const cfg = c.op.cfg;
      const issuing = cfg.tls && cfg.acmeDirectory ? driverFor(cfg).issuingHandshakeMs : undefined;
      await waitFor(`${c.host} through the proxy`, issuing ? issuing + 30_000 : 20_000, async () => {
        const r = await probeProxy(c.op.cfg, '/readyz', c.host, issuing);
        return r.status === 200 || `HTTP ${r.status}`;
      });
    },
  },
  {
    // ACME: the host's certificate now, unless the proxy gets its own at the first
    // handshake. A failure is recorded with the host (domain list, status) and tried again
    // by the certificate job: the domain is served either way, on the local stand-in.
    name: 'certificate',
    async run(c) {
      const cfg = c.op.cfg;
      if (!cfg.tls || !cfg.acmeDirectory || !c.live || driverFor(cfg).issuingHandshakeMs) return;
      await obtainCertificate(cfg, c.host).catch(() => undefined);
    },
  },
];

const removeSteps: Step<Ctx>[] = [
  {
    name: 'record',
    run(c) {
      const reg = c.op.refresh();
      const t = tenantEntry(reg, c.op.name);
      if (!t.domains.includes(c.host)) return;
      t.domains = t.domains.filter((d) => d !== c.host);
      writeRegistry(c.op.paths.registry, reg);
      c.changed = true;
    },
  },
  { name: 'route', run: route },
  { name: 'wait', run: async (c) => void (c.live && (await waitUnrouted(c.op.cfg, c.host))) },
  { name: 'worker', run: reloadWorker },
];

export interface DomainResult {
  tenant: string;
  host: string;
  changed: boolean;
  live: boolean;
  certificate?: CertState;
}

export async function addDomain(cfg: SiloConfig, name: string, raw: string): Promise<DomainResult> {
  const host = checkDomain(cfg, raw);
  const owner = ownerOf(cfg, readRegistry(`${cfg.home}/registry.json`), host);
  if (owner && owner !== name) throw new SiloError(`domain "${host}" already belongs to tenant "${owner}"`);
  return onTenant(cfg, name, { what: 'tenant.domain-add', details: { host }, registryLock: true }, async (op) => {
    const c: Ctx = { op, host, live: false, changed: false };
    await runSteps('domain-add', addSteps, c);
    return { tenant: name, host, changed: c.changed, live: c.live, certificate: certificateOf(cfg, host) };
  });
}

export async function removeDomain(cfg: SiloConfig, name: string, raw: string): Promise<DomainResult> {
  const host = normaliseHostName(String(raw ?? ''));
  return onTenant(cfg, name, { what: 'tenant.domain-remove', details: { host }, registryLock: true }, async (op) => {
    const had = op.reg.tenants[name]!.domains.includes(host);
    const owner = ownerOf(cfg, op.reg, host);
    if (owner && owner !== name) throw new SiloError(`domain "${host}" belongs to tenant "${owner}", not "${name}"`);
    const c: Ctx = { op, host, live: false, changed: false };
    // Run even when it is gone from the registry: completes a removal killed half-way.
    await runSteps('domain-remove', removeSteps, c);
    if (!had) throw new SiloError(host === `${name}.${cfg.domain}` ? `"${host}" is tenant ${name}'s own host: it cannot be removed` : `tenant "${name}" has no domain "${host}"`);
    return { tenant: name, host, changed: c.changed, live: c.live };
  });
}

export interface DomainRow {
  tenant: string;
  host: string;
  /** `own`: <tenant>.<domain>; `custom`: added with --domain or domain add */
  kind: 'own' | 'custom';
  certificate?: CertState;
}

/** Every host of every ready tenant (or of one), with its certificate's state when TLS is on. */
export function listDomains(cfg: SiloConfig, only?: string): DomainRow[] {
  const reg = readRegistry(`${cfg.home}/registry.json`);
  if (only !== undefined) tenantEntry(reg, only);
  return Object.entries(reg.tenants)
    .filter(([name]) => only === undefined || name === only)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([name, t]) =>
      tenantHosts(cfg, name, t).map((host, i) => {
        const certificate = certificateOf(cfg, host);
        return { tenant: name, host, kind: i === 0 ? ('own' as const) : ('custom' as const), ...(certificate ? { certificate } : {}) };
      }),
    );
}
