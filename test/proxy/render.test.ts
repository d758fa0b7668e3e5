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
import { renderNginxPool } from '../../src/proxy/nginx/pool.js';
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
function onlyOwnHosts() {
  const reg = fixture();
  delete reg.tenants['big-co'];
  return reg;
}
const input = { domain: 'localhost', httpHost: '127.0.0.1', httpPort: 8080, runDir: '/run/silo/t', wakerSocket: '/run/silo/t/_proxy/waker.sock' };

t.test('the model has ready tenants only, sorted, with all their hosts', async (t) => {
  const m = proxyModel(fixture(), input);
  t.same(m.routes, [
    { tenant: 'big-co', hosts: ['big-co.localhost', 'portal.big-co.example'], rate: 0 },
    { tenant: 'client1', hosts: ['client1.localhost'], rate: 0 },
  ]);
});

t.test('nginx: the socket is derived from the host, a domain from its link; no tenant or domain in the config; 404 without a route', async (t) => {
  const text = renderNginx(proxyModel(fixture(), input));
  t.match(text, /map \$host \$silo_named \{\n  default "";\n  "~\^\(\[a-z\]\[a-z0-9-\]\{0,30\}\[a-z0-9\]\)\\\.localhost\$" \$1;/);
  t.match(text, /map \$realpath_root \$silo_domain_tenant \{/);
  t.match(text, /root \/run\/silo\/t\/_hosts\/\$host;/);
  t.notMatch(text, /portal|big-co/, 'a customer domain is not in the config: no reload to add or remove one');
  t.notMatch(text, /client1/, 'a tenant on its own host and the default rate is not in the config: no reload to add it');
  t.match(text, /set \$silo_route \/run\/silo\/t\/_routes\/\$silo_named;\n    if \(\$silo_named = ""\) \{\n      set \$silo_route \/run\/silo\/t\/_hosts\/\$host;\n    \}\n    if \(!-f \$silo_route\) \{\n      return 404 /);
  t.match(text, /listen 127\.0\.0\.1:8080 default_server/);
  t.notMatch(text, /halfway/);
  t.notMatch(text, /^user /m, 'no user line without one to run as');
  t.same(renderNginx(proxyModel(emptyRegistry(), input)), renderNginx(proxyModel(onlyOwnHosts(), input)), 'tenants on their own hosts render nothing');
});

t.test('nginx: each known tenant has a keep-alive upstream on its own socket; any other name the derived socket', async (t) => {
  const pool = renderNginxPool(proxyModel(fixture(), input));
  t.match(pool, /upstream silo_pool_big_co \{\n  server unix:\/run\/silo\/t\/big-co\/http\.sock max_fails=0;\n  keepalive \d+;/);
  t.match(pool, /upstream silo_pool_client1 \{\n  server unix:\/run\/silo\/t\/client1\/http\.sock /);
  t.match(pool, /map \$silo_tenant \$silo_upstream \{\n  default "unix:\/run\/silo\/t\/\$silo_tenant\/http\.sock:";\n  big-co silo_pool_big_co;\n  client1 silo_pool_client1;\n\}/);
  t.notMatch(pool, /halfway/);
  t.match(renderNginx(proxyModel(fixture(), input)), /proxy_pass http:\/\/\$silo_upstream;/);
});

t.test('nginx: a tenant created or removed on its own host is installed in pool.conf without a reload', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-proxy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const layout = proxyDriver(dir, 'nginx');
  t.equal(await installProxyConfig(layout, proxyModel(emptyRegistry(), input)), true, 'a first install is a reload');
  t.equal(await installProxyConfig(layout, proxyModel(onlyOwnHosts(), input)), false, 'client1 created: no reload');
  t.match(readFileSync(join(layout.dir, 'pool.conf'), 'utf8'), /silo_pool_client1/, 'its upstream is installed for the next reload');
  t.equal(await installProxyConfig(layout, proxyModel(emptyRegistry(), input)), false, 'client1 removed: no reload');
  t.notMatch(readFileSync(join(layout.dir, 'pool.conf'), 'utf8'), /client1/);
});

t.test('nginx: every internal header a client sends is overwritten, forwarding headers set from the peer', async (t) => {
  const text = renderNginx(proxyModel(fixture(), input));
  const root = text.slice(text.indexOf('location / {'), text.indexOf('location @silo_wake'));
  for (const h of ['X-Silo-Tenant', 'X-Silo-Method', 'X-Silo-Connect', 'X-Silo-Body', 'Forwarded']) t.match(root, new RegExp(`proxy_set_header ${h} "";`), h);
  t.match(root, /proxy_set_header X-Forwarded-For \$remote_addr;/);
  const wake = text.slice(text.indexOf('location @silo_wake'), text.indexOf('location @silo_replay'));
  t.match(wake, /proxy_set_header X-Silo-Method \$request_method;/, 'the waker learns the method from nginx, not the client');
  t.match(wake, /proxy_set_header X-Silo-Body "";/);
});

t.test('caddy: a host matcher per tenant and a 404 catch-all', async (t) => {
  const text = renderCaddy('{\n}\n', proxyModel(fixture(), input));
  t.match(text, /@client1 host client1\.localhost\n/);
  t.match(text, /reverse_proxy unix\/\/run\/silo\/t\/client1\/http\.sock \{\n\t\t\theader_up -X-Silo-Tenant\n/);
  t.match(text, /\thandle \{\n\t\theader Content-Type application\/json\n\t\trespond `.*` 404\n/);
});

for (const kind of ['nginx', 'caddy'] as const) {
  t.test(`${kind} accepts the rendered config; an empty registry is valid too`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-proxy-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const layout = proxyDriver(dir, kind);
    t.equal(await installProxyConfig(layout, proxyModel(emptyRegistry(), input)), true);
    // nginx: tenants on their own hosts and customer domains are not in its config (only in the deferred pool.conf)
    t.equal(await installProxyConfig(layout, proxyModel(fixture(), input)), kind === 'caddy', kind === 'nginx' ? 'new tenants and domains: no reload' : 'new hosts: a reload');
    t.equal(await installProxyConfig(layout, proxyModel(fixture(), input)), false, 'unchanged: no reload');
    t.match(readFileSync(layout.config, 'utf8'), kind === 'nginx' ? /include tenants.conf/ : /client1/);
    // Two installs at once (each command stages in a folder of its own): neither fails.
    await Promise.all([installProxyConfig(layout, proxyModel(emptyRegistry(), input)), installProxyConfig(layout, proxyModel(fixture(), { ...input, httpPort: 8081 }))]);
    t.same(readdirSync(layout.dir).filter((f) => f.startsWith('staging')), [], 'no staging folder left');
  });
}

t.test('SILO_CONTROL_HOST: its own server block (nginx) or matcher (Caddy) to the control socket, accepted by both validators', async (t) => {
  const control = { host: 'admin.localhost', socket: '/run/silo/t/_proxy/control.sock' };
  const n = renderNginx(proxyModel(fixture(), { ...input, control }));
  t.match(n, /server_name admin\.localhost;\n[^}]*location \/ \{\n\s+proxy_pass http:\/\/unix:\/run\/silo\/t\/_proxy\/control\.sock:;/);
  t.match(n, /proxy_set_header X-Silo-Tenant "";/, 'internal headers cleared there too');
  const c = renderCaddy('{\n}\n', proxyModel(fixture(), { ...input, control }));
  t.match(c, /@silo_control host admin\.localhost\n\thandle @silo_control \{\n\t\treverse_proxy unix\/\/run\/silo\/t\/_proxy\/control\.sock \{/);
  t.ok(c.indexOf('@silo_control') < c.indexOf('@client1 '), 'before the tenants');
  t.notMatch(renderNginx(proxyModel(fixture(), input)), /admin\.localhost/, 'none without it');
  t.throws(() => proxyModel(fixture(), { ...input, control: { ...control, host: 'portal.big-co.example' } }), { message: /is tenant big-co's host/ });
  for (const kind of ['nginx', 'caddy'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'silo-proxy-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    t.equal(await installProxyConfig(proxyDriver(dir, kind), proxyModel(fixture(), { ...input, control })), true, `${kind} validates it`);
  }
});

t.test('nginx: workers on other hosts (swarm): each tenant its node first, the other nodes as backups; nginx accepts it', async (t) => {
  const remote = { client1: ['192.168.7.11:4100', '192.168.7.12:4100'], 'big-co': ['192.168.7.13:4101', '192.168.7.11:4101'] };
  const model = proxyModel(fixture(), { ...input, remote });
  const pool = renderNginxPool(model);
  t.match(pool, /upstream silo_pool_client1 \{\n  server 192\.168\.7\.11:4100 max_fails=3 fail_timeout=2s;\n  server 192\.168\.7\.12:4100 max_fails=0 backup;\n  keepalive \d+;/);
  t.match(pool, /big-co silo_pool_big_co;/);
  const conf = renderNginx(model);
  t.match(conf, /proxy_next_upstream error timeout;/, 'a refused node: the next one');
  t.notMatch(renderNginx(proxyModel(fixture(), input)), /proxy_next_upstream error/, 'one host: nothing to try next');
  const dir = mkdtempSync(join(tmpdir(), 'silo-proxy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(await installProxyConfig({ ...proxyDriver(dir, 'nginx'), deferred: [] }, model), true, 'validated by nginx and installed');
});
