/**
 * The proxy renderers are pure functions of the registry; the real nginx and caddy
 * validators accept what they produce.
 */
import t from 'tap';
import { readdirSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
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
  const base = { server: 'local', schemaVersion: 1, createdAt: '' };
  reg.tenants['client1'] = { ...base, port: 4100, domains: [], state: 'ready' };
  reg.tenants['big-co'] = { ...base, port: 4101, domains: ['portal.big-co.example'], state: 'ready' };
  reg.tenants['halfway'] = { ...base, port: 4102, domains: [], state: 'provisioning' };
  return reg;
}
const input = { domain: 'localhost', httpHost: '127.0.0.1', httpPort: 8080 };

t.test('the model has ready tenants only, sorted, with all their hosts', async (t) => {
  const m = proxyModel(fixture(), input);
  t.same(m.routes, [
    { tenant: 'big-co', port: 4101, hosts: ['big-co.localhost', 'portal.big-co.example'] },
    { tenant: 'client1', port: 4100, hosts: ['client1.localhost'] },
  ]);
});

t.test('nginx: a named keep-alive upstream per tenant, a host map, and a 404 default', async (t) => {
  const text = renderNginx(proxyModel(fixture(), input));
  t.match(text, /upstream tenant_big_co \{\n[^}]*server 127\.0\.0\.1:4101[^}]*keepalive 32;/);
  t.match(text, /map \$host \$silo_upstream \{\n  hostnames;\n  default "";/);
  t.match(text, /  portal\.big-co\.example tenant_big_co;/);
  t.match(text, /listen 127\.0\.0\.1:8080 default_server/);
  t.match(text, /return 404 /);
  t.notMatch(text, /halfway/);
  t.match(text, /proxy_set_header X-Forwarded-For \$remote_addr;/);
});

t.test('caddy: a host matcher per tenant and a 404 catch-all', async (t) => {
  const text = renderCaddy('{\n}\n', proxyModel(fixture(), input));
  t.match(text, /@client1 host client1\.localhost\n/);
  t.match(text, /reverse_proxy 127\.0\.0\.1:4100/);
  t.match(text, /\thandle \{\n\t\theader Content-Type application\/json\n\t\trespond `.*` 404\n/);
});

for (const kind of ['nginx', 'caddy'] as const) {
  t.test(`${kind} accepts the rendered config; an empty registry is valid too`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-proxy-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const layout = proxyDriver(dir, kind);
    t.equal(await installProxyConfig(layout, proxyModel(emptyRegistry(), input)), true);
    t.equal(await installProxyConfig(layout, proxyModel(fixture(), input)), true);
    t.equal(await installProxyConfig(layout, proxyModel(fixture(), input)), false, 'unchanged: no reload');
    t.match(readFileSync(layout.config, 'utf8'), kind === 'nginx' ? /include tenants.conf/ : /client1/);
    // Two installs at once (each command stages in a folder of its own): neither fails.
    await Promise.all([installProxyConfig(layout, proxyModel(emptyRegistry(), input)), installProxyConfig(layout, proxyModel(fixture(), { ...input, httpPort: 8081 }))]);
    t.same(readdirSync(layout.dir).filter((f) => f.startsWith('staging')), [], 'no staging folder left');
  });
}
