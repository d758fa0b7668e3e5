/**
 * The certificate job, as the PM2 app `certificates` that `silo up` starts with nginx and
 * SILO_ACME_DIRECTORY: every SILO_ACME_CHECK (default 1h) it obtains a certificate for
 * each served host that has none from ACME yet or whose certificate expires within
 * SILO_ACME_RENEW_BEFORE, one host at a time, and logs one line per host. nginx serves a
 * new file from the next handshake: nothing is reloaded. A failure is recorded with the
 * host (domain list, status) and tried again after a growing wait (acme.ts).
 */
import { loadStackConfig } from '../../registry/settings.js';
import { readRegistry } from '../../registry/registry.js';
import { homePaths } from '../../common/paths.js';
import { parseDuration } from '../../common/duration.js';
import { dueForCertificate, obtainCertificate } from './acme.js';
import { servedHosts } from './model.js';
import { probe } from '../../common/http-probe.js';

const cfg = loadStackConfig();
const line = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);
const every = parseDuration(cfg.acmeCheck) || 3_600_000;
let stopping = false;

async function round(): Promise<void> {
  const hosts = servedHosts(cfg, readRegistry(homePaths(cfg.home).registry));
  for (const host of dueForCertificate(cfg, hosts)) {
    if (stopping) return;
    try {
      const s = await obtainCertificate(cfg, host);
      line(`certificate for ${host}: issued, expires ${s.expiresAt}`);
    } catch (err) {
      line(`${(err as Error).message}`);
    }
  }
}

line(`certificates: checking every ${every / 1000} s, renewing ${cfg.acmeRenewBefore} before expiry, from ${cfg.acmeDirectory}`);
/** The proxy answers (its own 404 for a host nobody serves): started with the stack, it may still be binding. */
async function proxyAnswers(): Promise<boolean> {
  try {
    return (await probe(cfg.httpHost, cfg.httpPort, '/', 'silo-status.invalid', 2000)).status === 404;
  } catch {
    return false;
  }
}

const loop = async () => {
  // The ACME server validates through the proxy: wait for it before the first round (up to 30 s).
  for (let i = 0; i < 60 && !(await proxyAnswers()); i++) await new Promise((r) => setTimeout(r, 500));
  while (!stopping) {
    await round().catch((err) => line(`certificates: ${(err as Error).message}`));
    await new Promise((r) => setTimeout(r, every));
  }
};
void loop();

const stop = () => {
  stopping = true;
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
