/**
 * silo's local certificate authority, for HTTPS on localhost (a newcomer trusts
 * `$SILO_HOME/tls/ca.crt` once, in a browser or with curl --cacert) and as the stand-in
 * for a host whose ACME certificate is not issued yet. Made once per home by openssl
 * (Debian's `openssl`; Node's crypto cannot sign certificates). Its key stays in the
 * home (0600, silo's own user: the proxy never reads it). When the domain is localhost
 * the CA is name-constrained to it, so trusting it cannot vouch for any real site.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SiloConfig } from '../../common/config.js';
import { findProgram } from '../binaries.js';
import { ensureTlsDir, tlsPaths } from './store.js';

const run = promisify(execFile);

function openssl(): string {
  const bin = findProgram('openssl');
  if (!bin) throw new Error('openssl is not installed (Debian: apt-get install openssl); SILO_TLS=on needs it for the local CA');
  return bin;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** The CA's certificate file (made if missing). */
export async function ensureLocalCa(cfg: SiloConfig): Promise<string> {
  const p = tlsPaths(cfg.home);
  if (existsSync(p.caCert) && existsSync(p.caKey)) return p.caCert;
  ensureTlsDir(cfg.home);
  const constraint = cfg.domain === 'localhost' ? ['-addext', 'nameConstraints=critical,permitted;DNS:localhost'] : [];
  const tmp = mkdtempSync(join(p.dir, 'ca-'));
  try {
    await run(openssl(), [
      'req', '-x509', ...EC, '-keyout', join(tmp, 'ca.key'), '-out', join(tmp, 'ca.crt'), '-days', '3650',
      '-subj', `/O=silo/CN=silo local CA ${new Date().toISOString().slice(0, 10)}`,
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      ...constraint,
    ]);
    writeFileSync(p.caKey, readFileSync(join(tmp, 'ca.key')), { mode: 0o600 });
    writeFileSync(p.caCert, readFileSync(join(tmp, 'ca.crt')), { mode: 0o644 });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return p.caCert;
}

/** A key and a certificate for `host` signed by the local CA (397 days, what browsers accept). */
export async function issueLocal(cfg: SiloConfig, host: string): Promise<{ key: string; chain: string }> {
  const ca = await ensureLocalCa(cfg);
  const p = tlsPaths(cfg.home);
  const tmp = mkdtempSync(join(p.dir, 'issue-'));
  try {
    await run(openssl(), [
      'req', '-x509', ...EC, '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem'), '-days', '397',
      '-CA', ca, '-CAkey', p.caKey,
      '-subj', `/CN=${host}`,
      '-addext', `subjectAltName=DNS:${host}`,
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'extendedKeyUsage=serverAuth',
    ]);
    return { key: readFileSync(join(tmp, 'key.pem'), 'utf8'), chain: readFileSync(join(tmp, 'cert.pem'), 'utf8') + readFileSync(ca, 'utf8') };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
