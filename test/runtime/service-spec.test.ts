/**
 * A tenant's Swarm service as silo defines it (in-process, nothing runs): one replica of
 * the worker image, its own password secret only, limits from silo's, a health check on
 * /readyz, start-first updates, a host-mode port and dnsrr (no routing mesh, no VIP), and
 * the node the registry pins it to.
 */
import t from 'tap';
import { loadConfig } from '../../src/common/config.js';
import { emptyRegistry, type Registry } from '../../src/registry/registry.js';
import { tenantServiceSpec, serviceName } from '../../src/runtime/swarm/service-spec.js';

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
  t.match(c.Healthcheck.Test.join(' '), /\/readyz/);
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
