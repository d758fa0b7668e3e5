/**
 * The suspended page in both renderers: only the suspended tenant's hosts get it, a
 * hostile message cannot break out of either config language, and the real nginx and
 * caddy validators accept the result. (The behaviour through a running proxy is in
 * test/tenant/operations.test.ts.)
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRegistry } from '../../src/registry/registry.js';
import { proxyModel } from '../../src/proxy/model.js';
import { renderNginx } from '../../src/proxy/nginx.js';
import { suspendedPage } from '../../src/proxy/suspended.js';
import { installProxyConfig, proxyLayout } from '../../src/proxy/config-files.js';

const HOSTILE = `back at 5 $host ' " \` { } ; \\ <script>x</script> 🚧`;

function fixture() {
  const reg = emptyRegistry();
  reg.servers.local = { kind: 'embedded', host: '127.0.0.1', port: 5432 };
  const base = { server: 'local', schemaVersion: 1, createdAt: '', state: 'ready' as const };
  reg.tenants['client1'] = { ...base, port: 4100, domains: [] };
  reg.tenants['big-co'] = { ...base, port: 4101, domains: ['portal.big-co.example'], suspended: { by: 'operator', message: HOSTILE, since: '' } };
  return reg;
}
const input = { domain: 'localhost', httpHost: '127.0.0.1', httpPort: 8080 };

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

t.test('only the suspended tenant is routed to the page; the others keep their upstream', async (t) => {
  const m = proxyModel(fixture(), input);
  t.ok(m.routes.find((r) => r.tenant === 'big-co')!.suspended);
  t.notOk(m.routes.find((r) => r.tenant === 'client1')!.suspended);
  const text = renderNginx(m);
  t.match(text, /map \$host \$silo_suspended \{\n  hostnames;\n  default "";\n  big-co\.localhost big_co;\n  portal\.big-co\.example big_co;\n\}/);
  t.notMatch(text.split('map $host $silo_suspended')[1]!.split('}')[0]!, /client1/);
  t.match(text, /add_header Retry-After \$silo_retry_after always;/);
});

for (const kind of ['nginx', 'caddy'] as const) {
  t.test(`${kind} accepts the rendered config with a hostile message`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'silo-suspended-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const layout = proxyLayout(dir, kind);
    t.equal(await installProxyConfig(layout, proxyModel(fixture(), input)), true);
  });
}
