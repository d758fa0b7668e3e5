/**
 * The suspended page in both renderers: only the suspended tenant's hosts get it, a
 * hostile message cannot break out of either config language, and the real nginx and
 * caddy validators accept the result. (The behaviour through a running proxy is in
 * test/tenant/operations.test.ts.)
 */
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRegistry } from '../../src/registry/registry.js';
import { proxyModel } from '../../src/proxy/model.js';
import { renderNginx } from '../../src/proxy/nginx/render.js';
import { suspendedPage, writeSuspendedPages } from '../../src/proxy/suspended.js';
import { installProxyConfig } from '../../src/proxy/config-files.js';
import { proxyDriver } from '../../src/proxy/kinds.js';

const HOSTILE = `back at 5 $host ' " \` { } ; \\ <script>x</script> 🚧`;

function fixture() {
  const reg = emptyRegistry();
  reg.servers.local = { kind: 'embedded', host: '127.0.0.1', port: 5432 };
  const base = { server: 'local', schemaVersion: 1, createdAt: '', state: 'ready' as const };
  reg.tenants['client1'] = { ...base, port: 4100, domains: [] };
  reg.tenants['big-co'] = { ...base, port: 4101, domains: ['portal.big-co.example'], suspended: { by: 'operator', message: HOSTILE, since: '' } };
  return reg;
}
const input = { domain: 'localhost', httpHost: '127.0.0.1', httpPort: 8080, runDir: '/run/silo/t', wakerSocket: '/run/silo/t/_proxy/waker.sock' };

t.test('the page escapes every character outside a plain alphabet, in JSON and in HTML', async (t) => {
  const p = suspendedPage('big-co', HOSTILE, 300);
  const body = JSON.parse(p.json);
  t.same(body, { statusCode: 503, error: 'Service Unavailable', message: HOSTILE, suspended: true }, 'the JSON decodes to the message as given');
  // What could end a string: ' and $ in nginx, a backtick and { } (placeholders) in Caddy.
  t.match(p.json, /^\{"statusCode":503,"error":"Service Unavailable","message":"[A-Za-z0-9 .,:!?()\/_@#%+=\\-]*","suspended":true\}$/);
  t.notMatch(p.html, /['$`{}\\]/);
  t.notMatch(p.html, /<script>/);
  t.match(p.html, /&#60;script&#62;/);
});

t.test('nginx: suspending changes no config (no reload); a page file per tenant decides', async (t) => {
  const suspendedDir = '/srv/silo/proxy/suspended';
  const m = proxyModel(fixture(), { ...input, suspendedDir });
  t.ok(m.routes.find((r) => r.tenant === 'big-co')!.suspended, 'the model knows (Caddy renders it)');
  const reg = fixture();
  delete reg.tenants['big-co']!.suspended;
  const text = renderNginx(m);
  t.equal(renderNginx(proxyModel(reg, { ...input, suspendedDir })), text, 'same nginx config suspended or not');
  t.match(text, /if \(-f \/srv\/silo\/proxy\/suspended\/\$silo_tenant\.\$silo_page\) \{\n      rewrite \^ \/_silo_suspended last;/);
  t.match(text, /add_header Retry-After \$silo_retry_after always;/);
  t.notMatch(renderNginx(proxyModel(reg, input)), /silo_suspended/, 'without a pages folder, nothing is rendered');
});

t.test('writeSuspendedPages holds exactly the suspended tenants\' pages', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-pages-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const reg = fixture();
  reg.tenants['client1']!.suspended = { by: 'move', since: '' };
  writeSuspendedPages(dir, reg);
  t.same(readdirSync(dir).sort(), ['big-co.html', 'big-co.json', 'client1.html', 'client1.json', 'client1.soon']);
  t.same(JSON.parse(readFileSync(join(dir, 'big-co.json'), 'utf8')).message, HOSTILE);
  t.match(readFileSync(join(dir, 'client1.json'), 'utf8'), /client1 is moving to another database server/);
  delete reg.tenants['big-co']!.suspended;
  delete reg.tenants['client1']!.suspended;
  writeSuspendedPages(dir, reg);
  t.same(readdirSync(dir), []);
});

for (const kind of ['nginx', 'caddy'] as const) {
  t.test(`${kind} accepts the rendered config with a hostile message`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-suspended-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const layout = proxyDriver(dir, kind);
    t.equal(await installProxyConfig(layout, proxyModel(fixture(), { ...input, suspendedDir: join(dir, 'suspended') })), true);
  });
}
