/**
 * The Caddy driver adapts its Caddyfile to JSON with `caddy adapt`, a child process: a sync
 * with nothing changed reuses the installed caddy.json instead, and a change of the
 * Caddyfile or of silo's ACME account key adapts again. The real caddy, run through a
 * script that notes each subcommand it is asked for. In-process: no proxy is started.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRegistry } from '../../src/registry/registry.js';
import { proxyModel, type ProxyTls } from '../../src/proxy/model.js';
import { installProxyConfig } from '../../src/proxy/config-files.js';
import { findProgram } from '../../src/proxy/binaries.js';
import { withStatus } from '../../src/proxy/driver.js';
import { caddyDriver } from '../../src/proxy/caddy/driver.js';

const caddy = findProgram('caddy');
if (!caddy) throw new Error('caddy is not installed (Debian: apt-get install caddy)');
const dir = mkdtempSync(join(tmpdir(), 'silo-caddy-adapt-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const calls = join(dir, 'calls');
const wrapper = join(dir, 'caddy');
writeFileSync(wrapper, `#!/bin/sh\necho "$1" >> ${calls}\nexec ${caddy} "$@"\n`);
chmodSync(wrapper, 0o755);
const asked = (sub: string) => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((l) => l === sub).length : 0);

function registry(...tenants: string[]) {
  const reg = emptyRegistry();
  reg.servers.local = { kind: 'embedded', host: '127.0.0.1', port: 5432 };
  tenants.forEach((name, i) => (reg.tenants[name] = { server: 'local', schemaVersion: 1, createdAt: '', port: 4100 + i, domains: [], state: 'ready' }));
  return reg;
}
const input = { domain: 'localhost', httpHost: '127.0.0.1', httpPort: 8080, runDir: '/run/silo/t', wakerSocket: '/run/silo/t/_proxy/waker.sock' };

t.test('a sync with nothing changed spawns no caddy adapt and leaves caddy.json as it was', async (t) => {
  const driver = withStatus(caddyDriver(join(dir, 'plain'), wrapper));
  t.equal(await installProxyConfig(driver, proxyModel(registry('client1'), input)), true);
  t.equal(asked('adapt'), 1);
  const first = readFileSync(driver.config);
  const validated = asked('validate');
  t.equal(await installProxyConfig(driver, proxyModel(registry('client1'), input)), false, 'nothing to reload');
  t.equal(asked('adapt'), 1, 'no second adapt');
  t.equal(asked('validate'), validated, 'nor a validate');
  t.ok(readFileSync(driver.config).equals(first), 'caddy.json byte for byte');
  t.equal(statSync(join(driver.dir, 'caddy.json.sha256')).mode & 0o777, 0o600, 'its record is private like it');

  t.equal(await installProxyConfig(driver, proxyModel(registry('client1', 'client2'), input)), true);
  t.equal(asked('adapt'), 2, 'a changed Caddyfile is adapted again');
  t.match(readFileSync(driver.config, 'utf8'), /client2\.localhost/);

  // caddy.json no longer what its record says (edited by hand): made again, not trusted
  const made = readFileSync(driver.config, 'utf8');
  writeFileSync(driver.config, made.replace('client2.localhost', 'client9.localhost'));
  t.equal(await installProxyConfig(driver, proxyModel(registry('client1', 'client2'), input)), true);
  t.equal(asked('adapt'), 3);
  t.equal(readFileSync(driver.config, 'utf8'), made);
});

t.test("a new ACME account key is adapted in; the same one is not adapted again", async (t) => {
  const driver = withStatus(caddyDriver(join(dir, 'acme'), wrapper));
  const key = () => execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], { encoding: 'utf8' });
  const tls = (accountKey: string): ProxyTls => ({ port: 8443, certDir: join(dir, 'certs'), wildcard: false, hsts: 0, webroot: join(dir, 'webroot'), stamp: '', acme: { directory: 'https://127.0.0.1:14000/dir', askPort: 9999, accountKey } });
  const keys = (): string[] => JSON.parse(readFileSync(driver.config, 'utf8')).apps.tls.automation.policies.flatMap((p: { issuers?: { account_key?: string }[] }) => (p.issuers ?? []).map((i) => i.account_key));
  const [a, b] = [key(), key()];
  const before = asked('adapt');
  t.equal(await installProxyConfig(driver, proxyModel(registry('client1'), { ...input, tls: tls(a) })), true);
  t.equal(await installProxyConfig(driver, proxyModel(registry('client1'), { ...input, tls: tls(a) })), false);
  t.equal(asked('adapt'), before + 1);
  t.equal(await installProxyConfig(driver, proxyModel(registry('client1'), { ...input, tls: tls(b) })), true);
  t.equal(asked('adapt'), before + 2);
  t.ok(keys().length > 0 && keys().every((k) => k === b), 'every ACME issuer has the new key');
  t.notMatch(readFileSync(join(driver.dir, 'caddy.json.sha256'), 'utf8'), /PRIVATE KEY/, 'the record holds hashes only');
});
