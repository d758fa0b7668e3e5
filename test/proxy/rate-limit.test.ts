/**
 * Per-tenant request rates in the rendered proxy config: one nginx zone per distinct rate,
 * each tenant its own key, a 429 page in the JSON error shape with Retry-After, and the
 * real `nginx -t` accepts it. Caddy states the gap in its file.
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
import { tenantLimits } from '../../src/isolation/limits.js';

function fixture() {
  const reg = emptyRegistry();
  reg.servers.local = { kind: 'embedded', host: '127.0.0.1', port: 5432 };
  const base = { server: 'local', schemaVersion: 1, createdAt: '', domains: [], state: 'ready' as const };
  reg.tenants['noisy'] = { ...base, port: 4100, limits: { rate: 50 } };
  reg.tenants['calm-co'] = { ...base, port: 4101 };
  reg.tenants['free'] = { ...base, port: 4102, limits: { rate: 0 } };
  reg.tenants['also-50'] = { ...base, port: 4103, limits: { rate: 50, cpu: 25 } };
  return reg;
}
const input = { domain: 'localhost', httpHost: '127.0.0.1', httpPort: 8080, tenantRate: 20000, runDir: '/run/silo/t', wakerSocket: '/run/silo/t/_proxy/waker.sock' };

t.test('a tenant has its own rate, else the stack default; 0 is none', async (t) => {
  const rates = Object.fromEntries(proxyModel(fixture(), input).routes.map((r) => [r.tenant, r.rate]));
  t.same(rates, { 'also-50': 50, 'calm-co': 20000, free: 0, noisy: 50 });
  t.same(tenantLimits({ tenantRate: 20000, tenantCpu: 0 }, fixture().tenants['also-50']!), { rate: 50, cpu: 25 });
  t.same(tenantLimits({ tenantRate: 20000, tenantCpu: 0 }, fixture().tenants['calm-co']!), { rate: 20000, cpu: 0 });
});

t.test('nginx: one zone per distinct rate, keyed by tenant; 429 JSON with Retry-After', async (t) => {
  const text = renderNginx(proxyModel(fixture(), input));
  t.match(text, /map \$silo_tenant \$silo_rate_50 \{\n  default "";\n  also-50 also-50;\n  noisy noisy;\n\}/);
  // The default rate takes every tenant but those with another: a new tenant changes nothing.
  t.match(text, /map \$silo_tenant \$silo_rate_20000 \{\n  default \$silo_tenant;\n  also-50 "";\n  free "";\n  noisy "";\n\}/);
  t.notMatch(text, /calm-co/, 'a tenant on the default rate is not named');
  t.match(text, /limit_req_zone \$silo_rate_50 zone=silo_rate_50:1m rate=50r\/s;/);
  t.match(text, /limit_req_zone \$silo_rate_20000 zone=silo_rate_20000:1m rate=20000r\/s;/);
  t.notMatch(text, /free free;/, 'a tenant without a rate is in no zone');
  t.match(text, /    limit_req zone=silo_rate_50 burst=50 delay=5;\n    limit_req zone=silo_rate_20000 burst=20000 delay=2000;\n    limit_req_status 429;/);
  t.match(text, /error_page 429 \/_silo_error\/429;/);
  t.match(text, /add_header Retry-After 1 always;\n    return 429 '\{"statusCode":429,"error":"Too Many Requests","message":"[^']+"\}';/);
  t.notMatch(renderNginx(proxyModel(fixture(), { ...input, tenantRate: 0 })), /silo_rate_20000/, 'no default zone when the default is none');
});

t.test('caddy: no rate module, said in the file', async (t) => {
  t.match(renderCaddy('', proxyModel(fixture(), input)), /Request rates .* are not enforced by Caddy/);
});

t.test('nginx -t accepts the rendered limits', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-rate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(await installProxyConfig(proxyDriver(dir, 'nginx'), proxyModel(fixture(), input)), true);
});
