/**
 * The certificates the proxy serves, one bundle per host: `$SILO_HOME/tls/certs/<host>.pem`
 * (private key, then the certificate and its chain), 0600, owned by the proxy's user
 * under root (nginx's workers and Caddy read them; nobody else). nginx picks the file by
 * the handshake's SNI name (`ssl_certificate` with a variable: a new or renewed file is
 * served from the next handshake on, no reload); Caddy loads the folder.
 *
 * Where a host's certificate comes from, first match:
 *   1. the operator's files (SILO_TLS_CERT, SILO_TLS_KEY) for `*.<domain>`: copied to
 *      `_wildcard.pem`, every tenant host uses it;
 *   2. ACME (SILO_ACME_DIRECTORY): acme.ts replaces the file once issued;
 *   3. silo's local CA (local-ca.ts): for localhost, and as a stand-in for a host whose
 *      ACME certificate is not issued yet (the route works, a browser warns).
 * Beside each bundle, `state/<host>.json` says where it came from, when it expires and
 * the last ACME error: `silo tenant domain list` and `silo status` show it.
 */
import { X509Certificate } from 'node:crypto';
import { chownSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file.js';
import type { SiloConfig } from '../../common/config.js';
import { issueLocal } from './local-ca.js';

export const WILDCARD = '_wildcard';

export function tlsPaths(home: string) {
  const dir = join(home, 'tls');
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    certs: join(dir, 'certs'),
    bundle: (host: string) => join(dir, 'certs', `${host}.pem`),
    state: (host: string) => join(dir, 'state', `${host}.json`),
    stateDir: join(dir, 'state'),
    acme: join(dir, 'acme'),
    /** served by the proxy's HTTP listener at /.well-known/acme-challenge/ */
    webroot: join(dir, 'webroot'),
  };
}

export interface CertState {
  host: string;
  source: 'local' | 'acme' | 'files';
  /** ISO times of the certificate served now */
  issuedAt?: string;
  expiresAt?: string;
  /** the last ACME attempt that failed, and when (cleared by a success) */
  lastError?: string;
  lastAttemptAt?: string;
  /** failed attempts in a row (the next waits 10 s x 2^(n-1), at most an hour) */
  failures?: number;
}

export interface Owner {
  uid: number;
  gid: number;
}

/** The host's bundle is served by the wildcard (operator files for *.<domain>)? */
export function usesWildcard(cfg: SiloConfig, host: string): boolean {
  return Boolean(cfg.tlsCert) && host.endsWith(`.${cfg.domain}`) && !host.slice(0, -cfg.domain.length - 1).includes('.');
}

/** A folder only the proxy's user (or silo's own user) enters; `mode` 0711: entered by the proxy, listed by none. */
function privateDir(path: string, owner?: Owner, mode = 0o700): void {
  mkdirSync(path, { recursive: true, mode });
  if (owner) chownSync(path, owner.uid, owner.gid);
  chmodSync(path, mode);
}

/** The tls folder: the proxy passes through it to its certificates and the ACME webroot. */
export const ensureTlsDir = (home: string) => privateDir(tlsPaths(home).dir, undefined, 0o711);

/** Write a bundle (key, certificate chain) for the proxy: 0600, the proxy's user's. */
export function writeBundle(home: string, name: string, key: string, chain: string, owner?: Owner): void {
  const p = tlsPaths(home);
  ensureTlsDir(home);
  privateDir(p.certs, owner);
  const file = p.bundle(name);
  writeFileAtomic(file, `${key.trim()}\n${chain.trim()}\n`, 0o600);
  if (owner) chownSync(file, owner.uid, owner.gid);
}

export function readState(home: string, host: string): CertState | undefined {
  try {
    return JSON.parse(readFileSync(tlsPaths(home).state(host), 'utf8')) as CertState;
  } catch {
    return undefined;
  }
}

export function writeState(home: string, state: CertState): void {
  const p = tlsPaths(home);
  ensureTlsDir(home);
  privateDir(p.stateDir);
  writeFileAtomic(p.state(state.host), JSON.stringify(state) + '\n', 0o600);
}

/** The leaf certificate of a bundle, if the file holds one that parses. */
export function bundleCertificate(file: string): X509Certificate | undefined {
  try {
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(readFileSync(file, 'utf8'));
    return pem ? new X509Certificate(pem[0]) : undefined;
  } catch {
    return undefined;
  }
}

export const dates = (cert: X509Certificate) => ({ issuedAt: new Date(cert.validFrom).toISOString(), expiresAt: new Date(cert.validTo).toISOString() });

/**
 * A bundle that names `host` and is still valid for a minute: kept (an ACME certificate
 * is renewed by the certificate job before that, acme.ts; a short-lived one must not be
 * replaced by a stand-in here).
 */
function usable(file: string, host: string): boolean {
  const cert = bundleCertificate(file);
  return Boolean(cert && cert.checkHost(host) && Date.parse(cert.validTo) > Date.now() + 60_000);
}

/**
 * Every host in `hosts` gets a bundle (the wildcard, a kept one, or a new one from the
 * local CA); bundles of hosts no longer served are removed. Idempotent and quick when
 * nothing changed. Returns the hosts that got a new bundle.
 */
export async function syncCertificates(cfg: SiloConfig, hosts: string[], owner?: Owner): Promise<string[]> {
  const p = tlsPaths(cfg.home);
  ensureTlsDir(cfg.home);
  privateDir(p.certs, owner);
  const made: string[] = [];
  if (cfg.tlsCert && cfg.tlsKey) {
    const key = readFileSync(cfg.tlsKey, 'utf8');
    const chain = readFileSync(cfg.tlsCert, 'utf8');
    const file = p.bundle(WILDCARD);
    const want = `${key.trim()}\n${chain.trim()}\n`;
    if (!existsSync(file) || readFileSync(file, 'utf8') !== want) {
      writeBundle(cfg.home, WILDCARD, key, chain, owner);
      made.push(`*.${cfg.domain}`);
    }
  }
  for (const host of hosts) {
    if (usesWildcard(cfg, host)) continue;
    const file = p.bundle(host);
    if (usable(file, host)) continue;
    const { key, chain } = await issueLocal(cfg, host);
    writeBundle(cfg.home, host, key, chain, owner);
    const cert = bundleCertificate(file)!;
    const before = readState(cfg.home, host);
    writeState(cfg.home, { ...before, host, source: 'local', ...dates(cert) });
    made.push(host);
  }
  const keep = new Set([...hosts, WILDCARD]);
  for (const entry of readdirSync(p.certs)) {
    const host = entry.replace(/\.pem$/, '');
    if (entry.endsWith('.pem') && !keep.has(host)) {
      rmSync(join(p.certs, entry), { force: true });
      rmSync(p.state(host), { force: true });
    }
  }
  return made;
}

/** Caddy's own certificate of `host` (on-demand ACME), in its data folder: `caddy/certificates/<issuer>/<host>/<host>.crt`. */
function caddyCertificate(cfg: SiloConfig, host: string): X509Certificate | undefined {
  const root = join(cfg.home, 'proxy', 'caddy', 'data', 'caddy', 'certificates');
  let issuers: string[];
  try {
    issuers = readdirSync(root);
  } catch {
    return undefined;
  }
  for (const issuer of issuers) {
    const file = join(root, issuer, host, `${host}.crt`);
    if (existsSync(file)) return bundleCertificate(file);
  }
  return undefined;
}

/** What `domain list` and `status` show for a host. */
export function certificateOf(cfg: SiloConfig, host: string): CertState | undefined {
  if (!cfg.tls) return undefined;
  if (cfg.proxy === 'caddy' && cfg.acmeDirectory) {
    // Caddy obtains it at the host's first handshake and renews it itself; its errors are in the proxy's log.
    const cert = caddyCertificate(cfg, host);
    return cert ? { host, source: 'acme', ...dates(cert) } : undefined;
  }
  const p = tlsPaths(cfg.home);
  const wildcard = usesWildcard(cfg, host);
  const cert = bundleCertificate(wildcard ? p.bundle(WILDCARD) : p.bundle(host));
  const state = readState(cfg.home, host);
  if (!cert) return state ? { ...state, host } : undefined;
  return { ...state, host, source: wildcard ? 'files' : (state?.source ?? 'local'), ...dates(cert) };
}
