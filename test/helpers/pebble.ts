/**
 * A real ACME server for tests, offline: Debian's `pebble` (Let's Encrypt's test CA) on
 * loopback, its DNS pointed at `pebble-challtestsrv`, which answers every A query with
 * 127.0.0.1 (and no AAAA), so each validation really connects to silo's proxy on the
 * ports the test gives (HTTP-01 to `httpPort`, TLS-ALPN-01 to `tlsPort`). Pebble's own
 * HTTPS certificate is made here by openssl; `roots()` fetches the root it signs with (a
 * new one at each start): the only trust anchor a test's client should use.
 * Both processes are stopped by pid in teardown.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/ports.js';

export interface Pebble {
  /** the ACME directory URL */
  directory: string;
  /** the CA file pebble's own HTTPS is signed by (SILO_ACME_CA) */
  serverCa: string;
  /** pebble's root certificate (PEM), fetched from its management port */
  root(): Promise<string>;
}

function get(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode} for ${url}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitUp(url: string, ca: Buffer, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`pebble exited: ${log()}`);
    try {
      await get(url, ca);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`pebble did not answer at ${url}: ${log()}`);
}

export async function startPebble(
  t: { teardown(fn: () => unknown): void },
  opts: { httpPort: number; tlsPort: number; validitySeconds?: number },
): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'silo-pebble-'));
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGTERM');
      await new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl(['req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '2', '-subj', '/CN=pebble server test CA', '-addext', 'basicConstraints=critical,CA:TRUE']);
  ssl(['req', '-x509', ...ec, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=CA:FALSE']);

  const dnsPort = await freePort();
  const acmePort = await freePort();
  const mgmtPort = await freePort();
  const challMgmt = await freePort();
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: opts.httpPort,
        tlsPort: opts.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(opts.validitySeconds ? { certificateValidityPeriod: opts.validitySeconds } : {}),
      },
    }),
  );
  let out = '';
  const capture = (c: ChildProcess) => {
    c.stdout?.on('data', (d) => (out = (out + d).slice(-4000)));
    c.stderr?.on('data', (d) => (out = (out + d).slice(-4000)));
  };
  const dns = spawn('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challMgmt}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(dns);
  capture(dns);
  const pebble = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // No random sleeps before validation, and no nonces rejected on purpose: the test
    // checks silo's behaviour, not the client's retries of pebble's chaos.
    env: { PATH: process.env.PATH, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
  });
  children.push(pebble);
  capture(pebble);
  const serverCa = readFileSync(join(dir, 'ca.crt'));
  const directory = `https://127.0.0.1:${acmePort}/dir`;
  await waitUp(directory, serverCa, pebble, () => out);
  return {
    directory,
    serverCa: join(dir, 'ca.crt'),
    root: () => get(`https://127.0.0.1:${mgmtPort}/roots/0`, serverCa),
  };
}
