/**
 * Both renderers route a tenant that does not answer to the waker (on its Unix socket)
 * and replay it afterwards; the real nginx and caddy validators accept the result.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRegistry } from '../../src/registry/registry.js';
import { proxyModel } from '../../src/proxy/model.js';
import { renderNginx } from '../../src/proxy/nginx/render.js';
import { renderCaddy } from '../../src/proxy/caddy/render.js';
import { installProxyConfig } from '../../src/proxy/config-files.js';
import { proxyDriver } from '../../src/proxy/kinds.js';

function fixture() {
  const reg = emptyRegistry();
  reg.servers.local = { kind: 'embedded', host: '127.0.0.1', port: 5432 };
  const base = { server: 'local', schemaVersion: 1, createdAt: '', state: 'ready' as const };
  reg.tenants['client1'] = { ...base, port: 4100, domains: [] };
  reg.tenants['big-co'] = { ...base, port: 4101, domains: ['portal.big-co.example'] };
  return reg;
}
const input = { domain: 'localhost', httpHost: '127.0.0.1', httpPort: 8080, runDir: '/run/silo/t', wakerSocket: '/run/silo/t/_proxy/waker.sock' };

t.test('nginx: a refused tenant goes to the waker with its name, then is replayed', async (t) => {
  const text = renderNginx(proxyModel(fixture(), input));
  t.match(text, /upstream silo_waker \{\n  server unix:\/run\/silo\/t\/_proxy\/waker\.sock/);
  const root = text.slice(text.indexOf('location / {'), text.indexOf('location @silo_wake'));
  t.match(root, /error_page 502 = @silo_wake;/);
  t.match(root, /error_page 413 \/_silo_error\/413;/, 'the other JSON error pages still apply inside the location');
  t.match(text, /location @silo_wake \{[^}]*proxy_pass_request_body off;[^}]*X-Silo-Tenant \$silo_tenant;/);
  t.match(text, /location @silo_replay \{[^}]*proxy_pass http:\/\/\$silo_upstream;/);
});

t.test('caddy: error routes per tenant ask the waker, then proxy again', async (t) => {
  const text = renderCaddy('{\n}\n', proxyModel(fixture(), input));
  t.match(text, /@wake_big-co \{\n\t\t\thost big-co\.localhost portal\.big-co\.example\n\t\t\texpression \{err\.status_code\} == 502/);
  t.match(text, /reverse_proxy unix\/\/run\/silo\/t\/_proxy\/waker\.sock \{[^]*header_up X-Silo-Tenant client1[^]*handle_response @woke \{\n\t+reverse_proxy unix\/\/run\/silo\/t\/client1\/http\.sock/);
});

for (const kind of ['nginx', 'caddy'] as const) {
  t.test(`${kind} accepts the rendered config with the waker`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-proxy-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    t.equal(await installProxyConfig(proxyDriver(dir, kind), proxyModel(fixture(), input)), true);
  });
}
