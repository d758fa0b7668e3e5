/**
 * ACME through nginx against a real ACME server, offline: pebble on loopback, its DNS
 * answering 127.0.0.1 for every name, so each HTTP-01 validation really fetches the
 * token from silo's proxy. A customer's domain added under HTTPS load on another tenant
 * (0 failed) gets its certificate from pebble, and the tenant is fetched over HTTPS with
 * pebble's root as the only trust anchor; a name silo does not serve gets no
 * certificate; short-lived certificates (90 s) are renewed by the certificate job before
 * they expire, and nginx serves the new one without a reload.
 */
import t from 'tap';
import { createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/common/ports.js';
import { startStack, httpRequest } from '../helpers/stack.js';
import { startPebble } from '../helpers/pebble.js';
import { httpsGet, startHttpsLoad } from '../helpers/https.js';

t.test('nginx obtains and renews certificates from pebble', async (t) => {
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const pebble = await startPebble(t, { httpPort, tlsPort: httpsPort, validitySeconds: 90 });
  const root = await pebble.root();
  const stack = await startStack(t, {
    proxy: 'nginx',
    env: {
      SILO_DOMAIN: 'silo.test',
      SILO_HTTP_PORT: String(httpPort),
      SILO_TLS: 'on',
      SILO_HTTPS_PORT: String(httpsPort),
      SILO_ACME_DIRECTORY: pebble.directory,
      SILO_ACME_CA: pebble.serverCa,
      SILO_ACME_RENEW_BEFORE: '60s',
      SILO_ACME_CHECK: '2s',
    },
  });
  const localCa = readFileSync(join(stack.home, 'tls', 'ca.crt'), 'utf8');

  t.test('a domain added under HTTPS load on another tenant gets its certificate from pebble', async (t) => {
    const load = startHttpsLoad(httpsPort, 'client2.silo.test', '/api/polls', [localCa, root], 4);
    const add = await stack.cli(['tenant', 'domain', 'add', 'client1', 'shop.example.com']);
    const report = await load.stop();
    t.equal(add.code, 0, add.stderr);
    t.match(add.stdout, /added shop\.example\.com to tenant client1 \(certificate: acme, expires \d{4}-/);
    t.comment(`# figures: scenario=domain-add-acme proxy=nginx sent=${report.sent} failed=${report.failed} retried=${report.retried}`);
    t.ok(report.sent > 0);
    t.equal(report.failed, 0, report.errors.join('; '));

    const r = await httpsGet(httpsPort, 'shop.example.com', '/api/tenant', root);
    t.equal(r.status, 200);
    t.same(JSON.parse(r.text), { tenant: 'client1' });
    t.match(r.peer.issuer ?? '', /^Pebble Intermediate/, `issued by ${r.peer.issuer}`);
    const file = join(stack.home, 'tls', 'certs', 'shop.example.com.pem');
    t.equal((await import('node:fs')).statSync(file).mode & 0o777, 0o600, 'stored 0600');
  });

  t.test('HTTP redirects the domain to HTTPS', async (t) => {
    const r = await httpRequest(httpPort, 'shop.example.com', '/api/tenant');
    t.equal(r.status, 308);
    t.equal(r.headers.location, `https://shop.example.com:${httpsPort}/api/tenant`);
  });

  t.test('a name silo does not serve gets no certificate', async (t) => {
    await t.rejects(httpsGet(httpsPort, 'evil.example.com', '/', root), 'no certificate at the handshake');
    t.notOk(existsSync(join(stack.home, 'tls', 'certs', 'evil.example.com.pem')));
    t.notOk(existsSync(join(stack.home, 'tls', 'state', 'evil.example.com.json')), 'never asked for');
  });

  t.test('domain list shows the certificate', async (t) => {
    const r = await stack.cli(['tenant', 'domain', 'list', 'client1', '--json']);
    t.equal(r.code, 0, r.stderr);
    const shop = JSON.parse(r.stdout).find((d: { host: string }) => d.host === 'shop.example.com');
    t.equal(shop.certificate.source, 'acme');
    t.ok(Date.parse(shop.certificate.expiresAt) > Date.now());
    t.notOk(shop.certificate.lastError);
    const st = await stack.cli(['status', '--json']);
    const certs = JSON.parse(st.stdout).tls.certificates as { host: string; source: string; expiresAt: string }[];
    t.equal(certs.find((c) => c.host === 'shop.example.com')?.source, 'acme', 'silo status shows it too');
  });

  t.test('a certificate near its expiry is renewed by the job, served without a reload', async (t) => {
    const first = await httpsGet(httpsPort, 'shop.example.com', '/api/tenant', root);
    let renewed = first;
    for (let i = 0; i < 120 && renewed.peer.serial === first.peer.serial; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      renewed = await httpsGet(httpsPort, 'shop.example.com', '/api/tenant', root);
    }
    const jobLog = () => {
      try {
        return readFileSync(join(stack.home, 'logs', 'certificates.out.log'), 'utf8') + readFileSync(join(stack.home, 'logs', 'certificates.err.log'), 'utf8');
      } catch (err) {
        return String(err);
      }
    };
    if (renewed.peer.serial === first.peer.serial) t.comment(jobLog());
    t.not(renewed.peer.serial, first.peer.serial, 'a new certificate is served');
    t.ok(Date.parse(renewed.peer.validTo!) > Date.parse(first.peer.validTo!), `expires later: ${first.peer.validTo} -> ${renewed.peer.validTo}`);
    t.same(JSON.parse(renewed.text), { tenant: 'client1' });
    const log = readFileSync(join(stack.home, 'logs', 'certificates.out.log'), 'utf8');
    t.match(log, /certificate for shop\.example\.com: issued/);
  });

  t.test('the tenants own hosts get theirs from pebble too (the job obtains them)', async (t) => {
    // A first attempt that failed is tried again a minute later: wait up to 90 s.
    let last = '';
    for (let i = 0; i < 90; i++) {
      try {
        const r = await httpsGet(httpsPort, 'client2.silo.test', '/api/tenant', root);
        t.same(JSON.parse(r.text), { tenant: 'client2' });
        return;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const state = join(stack.home, 'tls', 'state', 'client2.silo.test.json');
    t.comment(existsSync(state) ? readFileSync(state, 'utf8') : 'no state');
    t.comment(readFileSync(join(stack.home, 'logs', 'certificates.out.log'), 'utf8'));
    t.fail(`client2.silo.test never served a certificate from pebble: ${last}`);
  });
});

// Caddy is given silo's one ACME account (proxy/tls/acme.ts, acmeAccountKey): Caddy 2.6
// registering its own at two first handshakes at once stored one account's key with the
// other's id, and every later order failed (pebble: "JWS verification error").
t.test('Caddy gets certificates on demand from pebble, only for hosts silo serves', async (t) => {
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const pebble = await startPebble(t, { httpPort, tlsPort: httpsPort });
  const root = await pebble.root();
  const stack = await startStack(t, {
    proxy: 'caddy',
    env: {
      SILO_DOMAIN: 'silo.test',
      SILO_HTTP_PORT: String(httpPort),
      SILO_TLS: 'on',
      SILO_HTTPS_PORT: String(httpsPort),
      SILO_ACME_DIRECTORY: pebble.directory,
      SILO_ACME_CA: pebble.serverCa,
    },
  });

  t.test("two tenants' first handshakes at once: both get certificates, under silo's one ACME account", async (t) => {
    const [a, b] = await Promise.all([httpsGet(httpsPort, 'client1.silo.test', '/api/tenant', root), httpsGet(httpsPort, 'client2.silo.test', '/api/tenant', root)]);
    t.same([JSON.parse(a.text), JSON.parse(b.text)], [{ tenant: 'client1' }, { tenant: 'client2' }]);
    t.match(a.peer.issuer ?? '', /^Pebble Intermediate/);
    // Caddy's own store (certmagic: acme/<ca>/users/<name>/<name>.key) holds no account but silo's.
    // (compared as public keys: Caddy re-encodes the PEM as SEC1, silo keeps PKCS#8)
    const publicKey = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64');
    const silo = publicKey(readFileSync(join(stack.home, 'tls', 'acme', 'account.key'), 'utf8'));
    const data = join(stack.home, 'proxy', 'caddy', 'data', 'caddy', 'acme');
    const keys = (readdirSync(data, { recursive: true }) as string[]).filter((f) => /\/users\/.*\.key$/.test(f));
    t.ok(keys.length >= 1, `Caddy stored the account it used: ${keys.join(', ')}`);
    for (const k of keys) t.equal(publicKey(readFileSync(join(data, k), 'utf8')), silo, `${k} is silo's account key`);
    const config = join(stack.home, 'proxy', 'caddy', 'caddy.json');
    t.equal(statSync(config).mode & 0o777, 0o600, 'the config that carries the key is 0600');
  });

  t.test('a domain added under HTTPS load on another tenant: its first handshake gets a certificate from pebble', async (t) => {
    const load = startHttpsLoad(httpsPort, 'client2.silo.test', '/api/polls', root, 4);
    const add = await stack.cli(['tenant', 'domain', 'add', 'client1', 'shop.example.com']);
    const report = await load.stop();
    t.equal(add.code, 0, add.stderr);
    t.comment(`# figures: scenario=domain-add-acme proxy=caddy sent=${report.sent} failed=${report.failed} retried=${report.retried}`);
    t.ok(report.sent > 0);
    t.equal(report.failed, 0, report.errors.join('; '));
    const r = await httpsGet(httpsPort, 'shop.example.com', '/api/tenant', root);
    t.same(JSON.parse(r.text), { tenant: 'client1' });
    t.match(r.peer.issuer ?? '', /^Pebble Intermediate/, `issued by ${r.peer.issuer}`);
    const list = JSON.parse((await stack.cli(['tenant', 'domain', 'list', 'client1', '--json'])).stdout);
    t.equal(list.find((d: { host: string }) => d.host === 'shop.example.com').certificate.source, 'acme');
  });

  t.test('the ask endpoint says yes only for registered hosts; others get no certificate', async (t) => {
    const askPort = Number(readFileSync(join(stack.home, 'tls', 'ask-port'), 'utf8'));
    const ask = async (domain: string) => (await httpRequest(askPort, `127.0.0.1:${askPort}`, `/?domain=${domain}`)).status;
    t.equal(await ask('shop.example.com'), 200);
    t.equal(await ask('client1.silo.test'), 200);
    t.equal(await ask('evil.example.com'), 404);
    t.equal(await ask('nobody.silo.test'), 404);
    await t.rejects(httpsGet(httpsPort, 'evil.example.com', '/', root), 'no certificate at the handshake');
    await t.rejects(httpsGet(httpsPort, 'nobody.silo.test', '/', root), 'not even under the base domain');
  });

  t.test('a removed domain is refused by the ask endpoint again', async (t) => {
    const r = await stack.cli(['tenant', 'domain', 'remove', 'client1', 'shop.example.com']);
    t.equal(r.code, 0, r.stderr);
    const askPort = Number(readFileSync(join(stack.home, 'tls', 'ask-port'), 'utf8'));
    t.equal((await httpRequest(askPort, `127.0.0.1:${askPort}`, '/?domain=shop.example.com')).status, 404);
  });
});
