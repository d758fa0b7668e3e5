/**
 * A tenant's Swarm service as silo defines it (in-process, nothing runs): one replica of
 * the worker image, its own password secret only, limits from silo's, a health check on
 * /readyz, start-first updates, a host-mode port and dnsrr (no routing mesh, no VIP), and
 * the node the registry pins it to.
 */
import t from 'tap';
import { loadConfig } from '../../src/common/config.js';
import { emptyRegistry, type Registry } from '../../src/registry/registry.js';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { READYZ_CHECK, WORKER_PORT, tenantServiceSpec, serviceName } from '../../src/runtime/swarm/service-spec.js';

function registry(): Registry {
  const reg = emptyRegistry();
  reg.servers.db = { kind: 'external', host: '192.168.7.12', port: 5432 };
  const base = { server: 'db', domains: [], state: 'ready' as const, schemaVersion: 1, createdAt: '' };
  reg.tenants.acme = { ...base, port: 21001, limits: { cpu: 50 } };
  reg.tenants.shop = { ...base, port: 21002, node: 'node3', domains: ['shop.example.com'] };
  return reg;
}

const cfg = loadConfig({ SILO_HOME: '/tmp/x', SILO_RUNTIME: 'swarm', SILO_WORKER_MAX_MEMORY: '200M' });
const inputs = (name: string) => ({ image: 'silo/worker:abc', appModule: '', entry: '', secret: { id: `id-${name}`, name: `silo-db-${name}-1` }, replicas: 1 as const });

t.test("a tenant's service: its image, its secret alone, its limits, health, updates, port", async (t) => {
  const s = tenantServiceSpec(cfg, registry(), 'acme', inputs('acme'));
  t.equal(s.Name, serviceName('acme'));
  t.equal(s.Mode.Replicated.Replicas, 1);
  const c = s.TaskTemplate.ContainerSpec;
  t.equal(c.Image, 'silo/worker:abc');
  t.same(c.Secrets.map((x) => x.SecretName), ['silo-db-acme-1'], 'its own password secret, nothing else');
  t.equal(c.Secrets[0]!.File.Mode, 0o400);
  t.ok(c.Env.includes('DB_PASSWORD_FILE=/run/secrets/db-password'));
  t.notOk(c.Env.some((e) => /PASSWORD=/.test(e)), 'no password in the environment');
  t.ok(c.Env.includes('DB_HOST=192.168.7.12') && c.Env.includes('TENANT=acme') && c.Env.includes('TENANT_HOSTS=acme.localhost'));
  t.equal(c.Healthcheck, READYZ_CHECK);
  t.equal(s.TaskTemplate.Resources.Limits.NanoCPUs, 0.5e9, '50% of a core');
  t.equal(s.TaskTemplate.Resources.Limits.MemoryBytes, 1.5 * 200 * 1048576, 'its memory ceiling');
  t.equal(s.UpdateConfig.Order, 'start-first');
  t.same(s.EndpointSpec, { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 8000, PublishedPort: 21001, PublishMode: 'host' }] });
  t.same(s.TaskTemplate.Placement.Constraints, [], 'not pinned: anywhere');
});

t.test('a pinned tenant is placed on its node; its domains reach its worker', async (t) => {
  const s = tenantServiceSpec(cfg, registry(), 'shop', { ...inputs('shop'), replicas: 0 });
  t.same(s.TaskTemplate.Placement.Constraints, ['node.hostname==node3']);
  t.equal(s.UpdateConfig.Order, 'stop-first', 'pinned: its port on its one node is taken until the old task stops');
  t.equal(s.Mode.Replicated.Replicas, 0, 'hibernated: no task');
  t.ok(s.TaskTemplate.ContainerSpec.Env.includes('TENANT_HOSTS=shop.localhost,shop.example.com'));
  t.notOk('NanoCPUs' in s.TaskTemplate.Resources.Limits, 'no CPU quota unless one is set');
});

t.test('the health check: healthy on /readyz 200 only, and no Node started for it', async (t) => {
  const [kind, shell, flag, script] = READYZ_CHECK.Test as [string, string, string, string];
  t.same([kind, shell, flag], ['CMD', 'bash', '-c'], 'a shell, not `node -e`: it runs every 2 s in every container');
  let status = 200;
  let paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.statusCode = status;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  // The same script, at this server's port instead of the worker's.
  const port = (server.address() as AddressInfo).port;
  const check = () =>
    new Promise<number | null>((resolve) => spawn('bash', ['-c', script.replace(`/${WORKER_PORT} `, `/${port} `)], { stdio: 'ignore', timeout: 10_000 }).on('close', resolve));
  t.equal(await check(), 0, 'readyz 200: healthy');
  t.same(paths, ['/readyz']);
  status = 503;
  t.equal(await check(), 1, 'readyz 503 (its database is not there): not healthy');
  server.close();
  await new Promise((r) => setTimeout(r, 100));
  paths = [];
  t.not(await check(), 0, 'nothing listening: not healthy');
});
