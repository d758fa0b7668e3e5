/**
 * ACME for nginx (SILO_ACME_DIRECTORY): a certificate per host, by HTTP-01, with the npm
 * package `acme-client` (RFC 8555, maintained, no native parts; it brings the CSR and key
 * helpers too). Chosen over Debian's `lego` because it runs inside the silo command and
 * the renewal job (no second program to install, supervise and parse), and the challenge
 * is only a file: silo writes the token into the webroot that the proxy's HTTP listener
 * serves at /.well-known/acme-challenge/ (the ACME server fetches it there), and the
 * issued bundle replaces the host's file in the store (store.ts), which nginx serves from
 * the next handshake on. Caddy gets its certificates by itself (on-demand TLS).
 *
 * The account key is `tls/acme/account.key` (0600, silo's user). Each attempt is recorded
 * with the host (`tls/state/<host>.json`): issued, expires, or the last error.
 */
import acme from 'acme-client';
import { Agent } from 'node:https';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SiloConfig } from '../../common/config.js';
import { parseDuration } from '../../common/duration.js';
import { proxyUser } from '../../isolation/run-dirs.js';
import { withLock } from '../../registry/lock.js';
import { bundleCertificate, dates, ensureTlsDir, readState, tlsPaths, writeBundle, writeState, type CertState } from './store.js';
import { emit } from '../../events/emit.js';

/**
 * An ACME client with its account: registered once per directory, its URL kept in
 * `tls/acme/account.json` (asking the server for an existing account's URL again is
 * refused by some servers, pebble among them). Registration runs under a lock, so the
 * certificate job and a `domain add` never register twice at once.
 */
async function client(cfg: SiloConfig): Promise<InstanceType<typeof acme.Client>> {
  const p = tlsPaths(cfg.home);
  ensureTlsDir(cfg.home);
  mkdirSync(p.acme, { recursive: true, mode: 0o700 });
  // The ACME server's own certificate: the system's CAs, or SILO_ACME_CA (a test CA).
  acme.axios.defaults.httpsAgent = new Agent(cfg.acmeCa ? { ca: readFileSync(cfg.acmeCa) } : {});
  const keyFile = join(p.acme, 'account.key');
  const accountFile = join(p.acme, 'account.json');
  const directoryUrl = cfg.acmeDirectory!;
  return withLock(join(p.acme, 'account.lock'), async () => {
    let saved: { directory?: string; url?: string } = {};
    try {
      saved = JSON.parse(readFileSync(accountFile, 'utf8'));
    } catch {
      // none yet
    }
    if (existsSync(keyFile) && saved.directory === directoryUrl && saved.url) {
      return new acme.Client({ directoryUrl, accountKey: readFileSync(keyFile), accountUrl: saved.url, backoffAttempts: 5, backoffMin: 500, backoffMax: 5000 });
    }
    // A new key per registration: an account this key may already have cannot be looked up.
    writeFileSync(keyFile, (await acme.crypto.createPrivateEcdsaKey()).toString(), { mode: 0o600 });
    const c = new acme.Client({ directoryUrl, accountKey: readFileSync(keyFile), backoffAttempts: 5, backoffMin: 500, backoffMax: 5000 });
    await c.createAccount({ termsOfServiceAgreed: true, ...(cfg.acmeEmail ? { contact: [`mailto:${cfg.acmeEmail}`] } : {}) });
    writeFileSync(accountFile, JSON.stringify({ directory: directoryUrl, url: c.getAccountUrl() }) + '\n', { mode: 0o600 });
    return c;
  });
}

/**
 * silo's ACME account key (PEM), registering the account first if there is none: Caddy
 * is given this key (caddy/driver.ts) instead of registering an account of its own. Caddy
 * 2.6 (certmagic 0.17) registers at its first issuances without a lock, so two hosts'
 * first handshakes at once register two accounts and store one's key with the other's
 * id, and after the next config load every order fails JWS verification (fixed upstream
 * in certmagic 0.21.4, "Sync ACME account registration"). With a key given, Caddy looks
 * that one account up, and concurrent lookups store the same pair.
 */
export async function acmeAccountKey(cfg: SiloConfig): Promise<string> {
  await client(cfg);
  return readFileSync(join(tlsPaths(cfg.home).acme, 'account.key'), 'utf8');
}

const oneLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300);

/** Obtain (or renew) the certificate of `host` and install it for the proxy. Records the outcome. */
export async function obtainCertificate(cfg: SiloConfig, host: string): Promise<CertState> {
  if (!cfg.acmeDirectory) throw new Error('SILO_ACME_DIRECTORY is not set');
  const p = tlsPaths(cfg.home);
  const challenges = join(p.webroot, '.well-known', 'acme-challenge');
  mkdirSync(challenges, { recursive: true, mode: 0o755 });
  for (const d of [p.webroot, join(p.webroot, '.well-known'), challenges]) chmodSync(d, 0o755);
  const before = readState(cfg.home, host);
  const attempt = new Date().toISOString();
  try {
    const [key, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] }, await acme.crypto.createPrivateEcdsaKey());
    const chain = await (await client(cfg)).auto({
      csr,
      ...(cfg.acmeEmail ? { email: cfg.acmeEmail } : {}),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The client's own pre-check would resolve the host from here: the ACME server checks.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        // Readable by the proxy's user whatever this process's umask (PM2 apps run with 077).
        const file = join(challenges, challenge.token);
        writeFileSync(file, keyAuthorization, { mode: 0o644 });
        chmodSync(file, 0o644);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        rmSync(join(challenges, challenge.token), { force: true });
      },
    });
    const user = proxyUser(cfg);
    writeBundle(cfg.home, host, key.toString(), chain, user ? { uid: user.uid, gid: user.gid } : undefined);
    const cert = bundleCertificate(p.bundle(host))!;
    const state: CertState = { host, source: 'acme', ...dates(cert), lastAttemptAt: attempt };
    writeState(cfg.home, state);
    return state;
  } catch (err) {
    writeState(cfg.home, { ...(before ?? { source: 'local' }), host, lastError: oneLine(err), lastAttemptAt: attempt, failures: (before?.failures ?? 0) + 1 });
    // Once per run of failures (the retries back off to an hour; a success ends the run).
    if (!before?.lastError) emit(cfg, 'certificate.failed', { host, error: oneLine(err) });
    throw new Error(`certificate for ${host}: ${oneLine(err)}`);
  }
}

/**
 * Hosts whose certificate should be obtained now: not from ACME yet, or expiring within
 * SILO_ACME_RENEW_BEFORE. After a failure the next attempt waits 10 s, then twice as long
 * each time, at most an hour (an ACME server limits failed validations: Let's Encrypt, 5
 * per host and hour).
 */
export function dueForCertificate(cfg: SiloConfig, hosts: string[], now = Date.now()): string[] {
  const before = parseDuration(cfg.acmeRenewBefore);
  return hosts.filter((host) => {
    const s = readState(cfg.home, host);
    const wait = Math.min(3_600_000, 10_000 * 2 ** Math.max(0, (s?.failures ?? 1) - 1));
    if (s?.lastError && s.lastAttemptAt && now - Date.parse(s.lastAttemptAt) < wait) return false;
    if (s?.source !== 'acme' || !s.expiresAt) return true;
    return Date.parse(s.expiresAt) - now <= before;
  });
}
