/**
 * The HTTPS part of the proxy model, made when the proxy config is rendered: every
 * host of a ready tenant gets its certificate bundle first (store.ts), so the config
 * never names a host the proxy has no certificate for.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SiloConfig } from '../../common/config.js';
import { tenantHosts } from '../../common/names.js';
import type { Registry } from '../../registry/registry.js';
import type { ProxyTls } from '../model.js';
import { syncCertificates, tlsPaths, type Owner } from './store.js';

/** Every host the proxy serves: the ready tenants' own and extra hosts. */
export function servedHosts(cfg: SiloConfig, reg: Registry): string[] {
  return Object.entries(reg.tenants)
    .filter(([, t]) => t.state === 'ready')
    .flatMap(([name, t]) => tenantHosts(cfg, name, t));
}

function stamp(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) {
    const st = statSync(join(dir, f));
    h.update(`${f}:${st.size}:${st.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

export async function proxyTls(cfg: SiloConfig, reg: Registry, owner?: Owner): Promise<ProxyTls> {
  const p = tlsPaths(cfg.home);
  await syncCertificates(cfg, servedHosts(cfg, reg), owner);
  // Tokens are public (the ACME server fetches them over plain HTTP): a folder anyone may read.
  mkdirSync(join(p.webroot, '.well-known', 'acme-challenge'), { recursive: true, mode: 0o755 });
  return { port: cfg.httpsPort, certDir: p.certs, wildcard: Boolean(cfg.tlsCert), hsts: cfg.hsts, webroot: p.webroot, stamp: stamp(p.certs) };
}
