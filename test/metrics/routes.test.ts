/**
 * The metrics plugin in-process, on a home of its own whose database server does not
 * answer and whose PM2 daemon does not run: GET /metrics still answers (the server is
 * `up 0`, nothing is started to ask PM2), with the route config the control API gives
 * it, and a request limited to one tenant sees that tenant's series alone.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { loadConfig } from '../../src/common/config.js';
import { runPaths } from '../../src/common/run-dir.js';
import { homePaths } from '../../src/common/paths.js';
import { writeRegistry, emptyRegistry } from '../../src/registry/registry.js';
import { metricsRoutes } from '../../src/metrics/routes.js';

t.test('GET /metrics from a home whose server and PM2 are down', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'silo-metrics-routes-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const pm2Home = process.env.PM2_HOME;
  process.env.PM2_HOME = join(home, 'pm2');
  t.teardown(() => void (pm2Home === undefined ? delete process.env.PM2_HOME : (process.env.PM2_HOME = pm2Home)));
  const reg = emptyRegistry();
  reg.servers.local = { kind: 'external', host: '127.0.0.1', port: 1 };
  const tenant = { server: 'local', port: 0, domains: [], state: 'ready' as const, schemaVersion: 1, createdAt: new Date().toISOString() };
  reg.tenants.acme = { ...tenant };
  reg.tenants.other = { ...tenant, suspended: { by: 'operator', since: new Date().toISOString() } };
  writeRegistry(join(home, 'registry.json'), reg);
  mkdirSync(join(home, 'secrets', 'servers'), { recursive: true });
  writeFileSync(join(home, 'secrets', 'servers', 'local.url'), 'postgres://admin:x@127.0.0.1:1/postgres', { mode: 0o600 });
  const cfg = loadConfig({ SILO_HOME: home });
  // acme's worker has counted 3 requests (its counts file, as a worker writes it).
  mkdirSync(runPaths(home).tenantDir('acme'), { recursive: true });
  // Under root the run folder is in /run/silo, outside the home: it goes too.
  t.teardown(() => rmSync(runPaths(home).dir, { recursive: true, force: true }));
  writeFileSync(runPaths(home).requestCounts('acme'), JSON.stringify({ v: 1, since: Date.now(), classes: { '2xx': 3, '3xx': 0, '4xx': 0, '5xx': 0 }, buckets: [3, 0, 0, 0, 0, 0], sum: 0.003 }));

  // acme's last backup attempt is of an earlier tenant of that name (before acme was created); other's failed just now.
  mkdirSync(join(home, 'backup-attempts'), { recursive: true });
  writeFileSync(homePaths(home).backupAttempt('acme'), JSON.stringify({ ok: true, at: '2020-01-01T00:00:00.000Z' }));
  writeFileSync(homePaths(home).backupAttempt('other'), JSON.stringify({ ok: false, at: new Date(Date.now() + 1000).toISOString() }));

  const app = Fastify();
  let seenConfig: unknown;
  app.addHook('onRequest', async (req) => {
    seenConfig = req.routeOptions.config;
  });
  await app.register(metricsRoutes, { cfg, routeConfig: { scope: 'read' }, onlyTenant: (req) => (req.headers['x-only'] as string | undefined) ?? undefined });
  t.teardown(() => app.close());

  const all = await app.inject({ url: '/metrics' });
  t.equal(all.statusCode, 200);
  t.match(all.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.match(seenConfig, { scope: 'read' }, 'the route carries the config it was given');
  t.match(all.body, /^silo_server_up\{server="local"\} 0$/m, 'a server that does not answer is up 0');
  t.match(all.body, /^silo_tenant_requests_total\{tenant="acme",class="2xx"\} 3$/m);
  t.match(all.body, /^silo_tenant_state\{tenant="acme",state="down"\} 1$/m, 'no worker, not hibernated: down');
  t.match(all.body, /^silo_tenant_state\{tenant="other",state="suspended"\} 1$/m);
  t.notMatch(all.body, /silo_tenant_backup_\w+\{tenant="acme"\}/, 'a backup of an earlier tenant of the name does not count');
  t.match(all.body, /^silo_tenant_backup_last_ok\{tenant="other"\} 0$/m, 'a failed attempt is 0');

  const one = await app.inject({ url: '/metrics', headers: { 'x-only': 'other' } });
  t.equal(one.statusCode, 200);
  t.notMatch(one.body, /tenant="acme"/, "another tenant's series are left out");
  t.notMatch(one.body, /^silo_server_/m, 'and the servers');
  t.match(one.body, /^silo_tenant_state\{tenant="other",state="suspended"\} 1$/m);
});
