/**
 * SILO_TLS=on through both proxies, as a newcomer and as an operator would use it:
 * nginx with silo's local CA (the only trust anchor the client has is
 * $SILO_HOME/tls/ca.crt), Caddy with the operator's own wildcard files for
 * *.silo.test (SILO_DOMAIN=silo.test). Each: HTTPS with HTTP/2 and HSTS, HTTP redirecting to HTTPS, a name silo
 * does not serve getting no certificate, an unknown Host 404 on both ports, and a tenant
 * created while the stack runs served over HTTPS at once.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/ports.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { httpsGet } from '../helpers/https.js';

function http2Status(port: number, host: string, path: string, ca: string): Promise<{ status: number; hsts?: string }> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { ca, servername: host });
    session.on('error', reject);
    const req = session.request({ ':path': path, ':authority': host });
    req.on('response', (h) => {
      resolve({ status: Number(h[':status']), hsts: h['strict-transport-security'] as string | undefined });
      session.close();
    });
    req.on('error', reject);
    req.end();
  });
}

/** A CA and a *.silo.test certificate, as an operator would get from their provider (a wildcard needs two labels under it: clients refuse *.localhost). */
function operatorFiles(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '30', '-subj', '/CN=operator test CA', '-addext', 'basicConstraints=critical,CA:TRUE']);
  run(['req', '-x509', ...ec, '-keyout', join(dir, 'wild.key'), '-out', join(dir, 'wild.crt'), '-days', '30', '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-subj', '/CN=*.silo.test', '-addext', 'subjectAltName=DNS:*.silo.test', '-addext', 'basicConstraints=CA:FALSE']);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'wild.crt'), key: join(dir, 'wild.key') };
}

async function checks(t: Test, stack: Stack, httpsPort: number, ca: string, issuer: RegExp, domain = 'localhost'): Promise<void> {
  const h = (tenant: string) => `${tenant}.${domain}`;
  t.test('a tenant answers over HTTPS, trusted through the given CA alone', async (t) => {
    const r = await httpsGet(httpsPort, h('client1'), '/api/tenant', ca);
    t.equal(r.status, 200);
    t.same(JSON.parse(r.text), { tenant: 'client1' });
    t.match(r.peer.issuer ?? '', issuer, `issued by ${r.peer.issuer}`);
    const other = await httpsGet(httpsPort, h('client2'), '/api/tenant', ca);
    t.same(JSON.parse(other.text), { tenant: 'client2' });
  });

  t.test('HTTP/2 and HSTS', async (t) => {
    const r = await http2Status(httpsPort, h('client1'), '/api/tenant', ca);
    t.equal(r.status, 200);
    t.equal(r.hsts, 'max-age=600');
  });

  t.test('HTTP redirects a tenant to HTTPS and answers anything else 404', async (t) => {
    const r = await stack.http(h('client1'), '/api/polls?x=1');
    t.equal(r.status, 308);
    t.equal(r.headers.location, `https://${h('client1')}:${httpsPort}/api/polls?x=1`);
    t.equal((await stack.http(h('nobody'), '/')).status, 404);
    t.equal((await stack.http('silo-status.invalid', '/')).status, 404);
  });

  t.test('a name silo does not serve gets no certificate; an unknown Host over a good handshake is 404', async (t) => {
    await t.rejects(httpsGet(httpsPort, 'nobody.example', '/', ca));
    t.equal((await httpsGet(httpsPort, h('client1'), '/', ca).then(() => 'ok')), 'ok');
    const spoof = await new Promise<number>((resolve, reject) => {
      import('node:https').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port: httpsPort, servername: h('client1'), headers: { host: h('nobody') }, ca, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    });
    t.equal(spoof, 404);
  });

  t.test('a tenant created while the stack runs is served over HTTPS at once', async (t) => {
    const created = await stack.cli(['tenant', 'create', 'acme']);
    t.equal(created.code, 0, created.stderr);
    t.match(created.stdout, `https://${h('acme')}:${httpsPort}/`);
    const r = await httpsGet(httpsPort, h('acme'), '/api/tenant', ca);
    t.same(JSON.parse(r.text), { tenant: 'acme' });
  });
}

t.test('nginx with the local CA', async (t) => {
  const httpsPort = await freePort();
  const stack = await startStack(t, { proxy: 'nginx', env: { SILO_TLS: 'on', SILO_HTTPS_PORT: String(httpsPort), SILO_HSTS: '600' } });
  const caFile = join(stack.home, 'tls', 'ca.crt');
  t.equal(statSync(join(stack.home, 'tls', 'ca.key')).mode & 0o777, 0o600, 'the CA key is 0600');
  t.equal(statSync(join(stack.home, 'tls', 'certs', 'client1.localhost.pem')).mode & 0o777, 0o600, 'a certificate bundle is 0600');
  t.match(stack.up.stdout, `https://client1.localhost:${httpsPort}/`);
  await checks(t, stack, httpsPort, readFileSync(caFile, 'utf8'), /^silo local CA/);
});

t.test("Caddy with the operator's wildcard files", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-operator-certs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = operatorFiles(dir);
  const httpsPort = await freePort();
  const stack = await startStack(t, {
    proxy: 'caddy',
    env: { SILO_TLS: 'on', SILO_DOMAIN: 'silo.test', SILO_HTTPS_PORT: String(httpsPort), SILO_HSTS: '600', SILO_TLS_CERT: files.cert, SILO_TLS_KEY: files.key },
  });
  await checks(t, stack, httpsPort, readFileSync(files.ca, 'utf8'), /^operator test CA$/, 'silo.test');
});
