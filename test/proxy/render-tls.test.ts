/**
 * The HTTPS pieces of both renderers (SILO_TLS=on), checked by the real validators:
 * nginx picks a certificate file by SNI and redirects HTTP for routed hosts only; Caddy
 * loads the certificate folder, or, with ACME, gets certificates on demand for the hosts
 * its ask endpoint (rendered from the routes) approves.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRegistry } from '../../src/registry/registry.js';
import { proxyModel, type ProxyTls } from '../../src/proxy/model.js';
import { renderNginx } from '../../src/proxy/nginx/render.js';
import { renderCaddy } from '../../src/proxy/caddy/render.js';
import { installProxyConfig } from '../../src/proxy/config-files.js';
import { proxyDriver } from '../../src/proxy/kinds.js';
import { readFileSync } from 'node:fs';
import { projectRoot } from '../../src/common/config.js';

const dir = mkdtempSync(join(tmpdir(), 'silo-render-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certDir = join(dir, 'certs');
mkdirSync(certDir);
// One bundle, so Caddy's `load` has something to load and nginx's validator a file to find.
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=client1.localhost'], { stdio: 'pipe' });
execFileSync('sh', ['-c', `cat ${join(dir, 'k.pem')} ${join(dir, 'c.pem')} > ${join(certDir, 'client1.localhost.pem')}`]);

function fixture() {
  const reg = emptyRegistry();
  reg.servers.local = { kind: 'embedded', host: '127.0.0.1', port: 5432 };
  const base = { server: 'local', schemaVersion: 1, createdAt: '' };
  reg.tenants['client1'] = { ...base, port: 4100, domains: ['shop.example.com'], state: 'ready' };
  return reg;
}
const tls: ProxyTls = { port: 8443, certDir, wildcard: false, hsts: 0, webroot: join(dir, 'webroot'), stamp: 'abc' };
const input = { domain: 'localhost', httpHost: '127.0.0.1', httpPort: 8080, runDir: '/run/silo/t', wakerSocket: '/run/silo/t/_proxy/waker.sock' };

t.test('nginx: HTTPS listener with HTTP/2, the certificate by SNI name, HTTP redirects routed hosts', async (t) => {
  const text = renderNginx(proxyModel(fixture(), { ...input, tls: { ...tls, hsts: 600 } }));
  t.match(text, /listen 127\.0\.0\.1:8443 ssl http2 default_server reuseport;/);
  t.match(text, /default \S+\/certs\/\$ssl_server_name\.pem;/);
  t.match(text, /ssl_certificate \$silo_cert;/);
  t.match(text, /add_header Strict-Transport-Security "max-age=600" always;/);
  t.match(text, /listen 127\.0\.0\.1:8080 default_server reuseport;/);
  t.match(text, /location \^~ \/\.well-known\/acme-challenge\/ \{/);
  t.match(text, /if \(!-f \$silo_route\) \{\n      return 404 [^\n]+\n    \}\n    return 308 https:\/\/\$host:8443\$request_uri;/);
  const wild = renderNginx(proxyModel(fixture(), { ...input, tls: { ...tls, wildcard: true } }));
  t.match(wild, /\*\.localhost \S+\/certs\/_wildcard\.pem;/);
});

t.test('Caddy: the folder of certificates, or on-demand ACME with an ask endpoint of the routed hosts', async (t) => {
  const base = readFileSync(join(projectRoot, 'proxy', 'Caddyfile.base'), 'utf8');
  const loaded = renderCaddy(base, proxyModel(fixture(), { ...input, tls }));
  t.match(loaded, /^https:\/\/:8443 \{/m);
  t.match(loaded, new RegExp(`load ${certDir}`));
  t.match(loaded, /^http:\/\/:8080 \{/m);
  t.match(loaded, /redir https:\/\/\{host\}:8443\{uri\} 308/);
  const acme = renderCaddy(base, proxyModel(fixture(), { ...input, tls: { ...tls, acme: { directory: 'https://127.0.0.1:14000/dir', askPort: 9999 } } }));
  t.match(acme, /\ton_demand\n/);
  t.match(acme, /acme_ca https:\/\/127\.0\.0\.1:14000\/dir/);
  t.match(acme, /ask http:\/\/127\.0\.0\.1:9999\//);
  t.match(acme, /@silo query domain=client1\.localhost domain=shop\.example\.com/);
  t.notMatch(acme, /auto_https off/);
});

for (const kind of ['nginx', 'caddy'] as const) {
  t.test(`${kind} validates the HTTPS configs`, async (t) => {
    const layout = proxyDriver(join(dir, `home-${kind}`), kind);
    t.equal(await installProxyConfig(layout, proxyModel(fixture(), { ...input, tls })), true);
    if (kind === 'caddy') {
      t.equal(await installProxyConfig(layout, proxyModel(fixture(), { ...input, tls: { ...tls, acme: { directory: 'https://127.0.0.1:14000/dir', askPort: 9999 } } })), true);
      // silo's ACME account (proxy/tls/acme.ts): in every ACME issuer of the JSON Caddy runs, a file only its owner reads
      const accountKey = execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], { encoding: 'utf8' });
      t.equal(await installProxyConfig(layout, proxyModel(fixture(), { ...input, tls: { ...tls, acme: { directory: 'https://127.0.0.1:14000/dir', askPort: 9999, accountKey } } })), true);
      const json = JSON.parse(readFileSync(layout.config, 'utf8'));
      const issuers = json.apps.tls.automation.policies.flatMap((p: { issuers?: unknown[] }) => p.issuers ?? []);
      t.ok(issuers.length > 0);
      t.same(issuers.map((i: { module: string; account_key?: string }) => [i.module, i.account_key]), issuers.map(() => ['acme', accountKey]));
      t.equal(statSync(layout.config).mode & 0o777, 0o600);
    }
  });
}

t.test('the control host over HTTPS: its certificate by SNI like a tenant host, its HTTP port redirecting; both validators accept it', async (t) => {
  execFileSync('sh', ['-c', `cp ${join(certDir, 'client1.localhost.pem')} ${join(certDir, 'admin.localhost.pem')}`]);
  const control = { host: 'admin.localhost', socket: '/run/silo/t/_proxy/control.sock' };
  const n = renderNginx(proxyModel(fixture(), { ...input, tls, control }));
  t.match(n, /listen 127\.0\.0\.1:8443 ssl http2;\n\s+ssl_certificate \$silo_cert;[^}]*server_name admin\.localhost;/);
  t.match(n, /listen 127\.0\.0\.1:8080;\n\s+server_name admin\.localhost;\n\s+return 308 https:\/\/\$host:8443\$request_uri;/);
  const acme = renderCaddy('{\n}\n', proxyModel(fixture(), { ...input, tls: { ...tls, acme: { directory: 'https://127.0.0.1:14000/dir', askPort: 9999 } }, control }));
  t.match(acme, /@silo query [^\n]*domain=admin\.localhost/, "Caddy's ask endpoint approves the admin host");
  t.match(acme, /@tenant host [^\n]*admin\.localhost/, 'and its HTTP port redirects it');
  for (const kind of ['nginx', 'caddy'] as const) {
    const layout = proxyDriver(join(dir, `control-${kind}`), kind);
    t.equal(await installProxyConfig(layout, proxyModel(fixture(), { ...input, tls, control })), true, `${kind} validates it`);
  }
});
