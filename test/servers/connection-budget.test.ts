/**
 * The connection budget's rules, pure: what a server's budget is, how many tenants can be
 * busy at once, and where `tenant create` without `--server` places a tenant.
 */
import t from 'tap';
import { CONTROL_RESERVE, budgetOf, busyAtOnce, knownMaxConnections, placeByBudget, poolSize, tenantPoolSize } from '../../src/servers/connection-budget.js';
import { placeTenant } from '../../src/servers/servers.js';
import type { Registry } from '../../src/registry/registry.js';

t.test('the budget is max_connections less the superusers\' and silo\'s reserve', async (t) => {
  t.equal(budgetOf(200, 3), 200 - 3 - CONTROL_RESERVE);
  t.equal(budgetOf(200), 200 - 3 - CONTROL_RESERVE, "PostgreSQL's default reserve when not asked");
  t.equal(budgetOf(5, 3), 0, 'never negative');
  t.equal(busyAtOnce(189, 4), 47);
  t.equal(busyAtOnce(189, 1), 189);
});

t.test('embedded servers have the configured max_connections; external ones what server add read', async (t) => {
  const cfg = { pgMaxConnections: 400 };
  t.equal(knownMaxConnections(cfg, { kind: 'embedded', host: '/x', port: 1 }), 400);
  t.equal(knownMaxConnections(cfg, { kind: 'external', host: 'db', port: 5432, maxConnections: 1000 }), 1000);
  t.equal(knownMaxConnections(cfg, { kind: 'external', host: 'db', port: 5432 }), 100, 'unknown: PostgreSQL default');
});

t.test('placement counts connections, not only tenants', async (t) => {
  t.equal(placeByBudget([{ name: 'a', budget: 189, tenants: 10 }, { name: 'b', budget: 389, tenants: 15 }]), 'b', 'twice the budget takes more tenants');
  t.equal(placeByBudget([{ name: 'a', budget: 189, tenants: 10 }, { name: 'b', budget: 389, tenants: 25 }]), 'a');
  t.equal(placeByBudget([{ name: 'b', budget: 189, tenants: 3 }, { name: 'a', budget: 189, tenants: 3 }]), 'a', 'equal: by name');
  t.equal(placeByBudget([{ name: 'a', budget: 189, tenants: 4 }, { name: 'b', budget: 189, tenants: 3 }]), 'b', 'equal budgets: the fewest tenants');
  t.equal(placeByBudget([]), undefined);

  const reg: Registry = {
    version: 1,
    servers: {
      local: { kind: 'embedded', host: '/s', port: 1 },
      big: { kind: 'external', host: 'db', port: 5432, maxConnections: 1000 },
    },
    tenants: Object.fromEntries(
      Array.from({ length: 3 }, (_, i) => [`t${i}`, { server: 'big', port: 4100 + i, domains: [], state: 'ready', schemaVersion: 1, createdAt: '' }]),
    ) as Registry['tenants'],
  };
  t.equal(placeTenant(reg, undefined, { pgMaxConnections: 100 }), 'big', 'three tenants on 1,000 connections leave more per tenant than none on 100');
  t.equal(placeTenant(reg, 'local', { pgMaxConnections: 100 }), 'local', '--server wins');
  t.throws(() => placeTenant(reg, 'nope', { pgMaxConnections: 100 }), /unknown server "nope"/);
});

t.test("a worker's pool is its share of its server's budget, 1 to SILO_POOL_MAX", async (t) => {
  t.equal(poolSize(389, 2, 4), 4, 'two demo tenants on 400 connections: the whole SILO_POOL_MAX');
  t.equal(poolSize(189, 1000, 4), 1, '1,000 tenants on 200 connections: one each, 189 busy at once');
  t.equal(poolSize(189, 60, 4), 3);
  t.equal(poolSize(0, 5, 4), 1, 'never 0');
  t.equal(poolSize(389, 0, 4), 4);
  const reg: Registry = {
    version: 1,
    servers: { local: { kind: 'embedded', host: '/s', port: 1 } },
    tenants: Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [`t${i}`, { server: 'local', port: 4100 + i, domains: [], state: 'ready', schemaVersion: 1, createdAt: '' }]),
    ) as Registry['tenants'],
  };
  t.equal(tenantPoolSize({ pgMaxConnections: 40, poolMax: 4 }, reg, 'local'), 1, '60 tenants, budget 29');
  t.equal(tenantPoolSize({ pgMaxConnections: 400, poolMax: 4 }, reg, 'local'), 4, '60 tenants, budget 389');
  t.equal(tenantPoolSize({ pgMaxConnections: 200, poolMax: 4 }, reg, 'local'), 3, '60 tenants, budget 189');
});
