/**
 * The HTTPS part of the proxy model, made when the proxy config is rendered: every
 * host of a ready tenant gets its certificate bundle first (store.ts), so the config
 * never names a host the proxy has no certificate for.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { freePort } from '../../common/ports.js';
import { join } from 'node:path';
import type { SiloConfig } from '../../common/config.js';
import { tenantHosts } from '../../common/names.js';
import { within } from '../../common/within.js';
import type { Registry } from '../../registry/registry.js';
import type { ProxyTls } from '../model.js';
import { syncCertificates, tlsPaths, type Owner } from './store.js';

/** Every host the proxy serves: the ready tenants' own and extra hosts. */
export function servedHosts(cfg: SiloConfig, reg: Registry): string[] {
  return [
    ...Object.entries(reg.tenants)
      .filter(([, t]) => t.state === 'ready')
      .flatMap(([name, t]) => tenantHosts(cfg, name, t)),
    // the control API's admin host gets its certificate like a tenant's host
    ...(cfg.control && cfg.controlHost ? [cfg.controlHost] : []),
  ];
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
  for (const d of [p.webroot, join(p.webroot, '.well-known'), join(p.webroot, '.well-known', 'acme-challenge')]) chmodSync(d, 0o755);
  const accountKey = cfg.acmeDirectory && cfg.proxy === 'caddy' ? await caddyAccountKey(cfg) : undefined;
  const acme = cfg.acmeDirectory
    ? {
        directory: cfg.acmeDirectory,
        ...(cfg.acmeEmail ? { email: cfg.acmeEmail } : {}),
        ...(cfg.acmeCa ? { caFile: proxyReadable(cfg.home, cfg.acmeCa) } : {}),
        askPort: await askPort(cfg.home),
        ...(accountKey ? { accountKey } : {}),
      }
    : undefined;
  return { port: cfg.httpsPort, certDir: p.certs, wildcard: Boolean(cfg.tlsCert), hsts: cfg.hsts, webroot: p.webroot, stamp: stamp(p.certs), ...(acme ? { acme } : {}) };
}

/**
 * The account Caddy is to use (acme.ts says why silo registers it): registered at the
 * first render with ACME on. An ACME server that cannot be reached then must not keep the
 * proxy from starting: Caddy is left to register its own, and the next render tries again.
 */
async function caddyAccountKey(cfg: SiloConfig): Promise<string | undefined> {
  // loaded only here: acme-client is not needed by any other render
  const key = import('./acme.js').then(({ acmeAccountKey }) => acmeAccountKey(cfg));
  return within(15_000, key.catch(() => undefined));
}

/** A copy of a public file (a CA certificate) the proxy's user can read, wherever the operator keeps it. */
function proxyReadable(home: string, file: string): string {
  const copy = join(tlsPaths(home).dir, 'acme-ca.pem');
  const text = readFileSync(file);
  if (!existsSync(copy) || !readFileSync(copy).equals(text)) writeFileSync(copy, text, { mode: 0o644 });
  return copy;
}

/** The loopback port Caddy's on-demand `ask` endpoint listens on: chosen once per home, kept in tls/ask-port. */
async function askPort(home: string): Promise<number> {
  const file = join(tlsPaths(home).dir, 'ask-port');
  if (existsSync(file)) {
    const port = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(port) && port > 0 && port < 65536) return port;
  }
  const port = await freePort();
  writeFileSync(file, `${port}\n`, { mode: 0o600 });
  return port;
}
