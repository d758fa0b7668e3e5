/**
 * Per-tenant limits, set on `tenant create` and changed by running it again: a request
 * rate at the proxy (429 in the JSON error shape with Retry-After, only for that tenant)
 * and a CPU quota for its worker in its own cgroup, both shown in `silo status`.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, type Stack } from '../helpers/stack.js';
import { siloStatus } from '../helpers/resilience.js';
import { detectCgroups, tenantCgroup } from '../../src/isolation/cgroups.js';

t.setTimeout(120_000);

const stack = await startStack(t);
const cgroups = detectCgroups();

interface Limits { rate: number; cpu: number; cpuGroup: boolean }
async function status(s: Stack) {
  const raw = JSON.parse((await siloStatus(s)).raw) as { cpuLimits: string; tenants: { name: string; pid: number; limits: Limits }[] };
  return { cpuLimits: raw.cpuLimits, of: (n: string) => raw.tenants.find((x) => x.name === n)! };
}

/** `n` requests at once to a tenant: statuses, and one 429 if any came. */
async function burst(tenant: string, n: number) {
  const answers = await Promise.all(Array.from({ length: n }, () => stack.http(`${tenant}.localhost`, '/api/tenant')));
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return { counts, limited: answers.find((a) => a.status === 429) };
}

await t.test('a tenant created with --rate and --cpu gets them; its neighbours do not', async (t) => {
  const r = await stack.cli(['tenant', 'create', 'acme', '--rate', '5', '--cpu', '50']);
  t.equal(r.code, 0, r.stderr);
  const s = await status(stack);
  t.same(s.of('acme').limits, { rate: 5, cpu: 50, cpuGroup: cgroups.version !== 'unavailable' }, 'status shows its limits');
  t.same(s.of('client1').limits.rate, 20000, 'a neighbour has the default rate');
  t.equal(s.cpuLimits, cgroups.version === 'unavailable' ? `unavailable: ${cgroups.reason}` : `cgroup ${cgroups.version}`);

  const acme = await burst('acme', 40);
  t.ok((acme.counts[429] ?? 0) > 0 && (acme.counts[200] ?? 0) >= 5, `acme is limited: ${JSON.stringify(acme.counts)}`);
  t.equal(acme.limited?.headers['retry-after'], '1', 'Retry-After: 1');
  t.same(acme.limited?.json(), { statusCode: 429, error: 'Too Many Requests', message: 'this tenant sends more requests than its rate allows; retry later' }, 'the JSON error shape');
  const client1 = await burst('client1', 40);
  t.same(client1.counts, { 200: 40 }, 'client1 is not');

  if (cgroups.version !== 'unavailable') {
    const dir = tenantCgroup(cgroups, stack.home, 'acme')!;
    const quota = cgroups.version === 'v2' ? readFileSync(join(dir, 'cpu.max'), 'utf8').trim() : readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8').trim();
    t.equal(quota, cgroups.version === 'v2' ? '50000 100000' : '50000', 'the quota is half a core');
    const procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    t.ok(procs.includes(s.of('acme').pid), 'its worker is in its group');
  }
});

await t.test('running create again changes the limits, without a restart', async (t) => {
  const pid = (await status(stack)).of('acme').pid;
  const r = await stack.cli(['tenant', 'create', 'acme', '--rate', '0', '--cpu', '0']);
  t.equal(r.code, 0, r.stderr);
  const s = await status(stack);
  t.same(s.of('acme').limits, { rate: 0, cpu: 0, cpuGroup: cgroups.version !== 'unavailable' });
  t.equal(s.of('acme').pid, pid, 'same worker process');
  t.same((await burst('acme', 40)).counts, { 200: 40 }, 'no rate limit any more');
  if (cgroups.version === 'v1') t.equal(readFileSync(join(tenantCgroup(cgroups, stack.home, 'acme')!, 'cpu.cfs_quota_us'), 'utf8').trim(), '-1', 'no quota any more');
});

await t.test('bad limits are one line', async (t) => {
  for (const [flag, value] of [['--rate', '-1'], ['--rate', 'fast'], ['--cpu', '1e3'], ['--cpu', '99999']]) {
    const r = await stack.cli(['tenant', 'create', 'acme', flag!, value!]);
    t.equal(r.code, 1);
    t.match(r.stderr, new RegExp(`^silo: invalid ${flag} "${value}": .*\\n$`));
  }
});

await t.test('remove takes its CPU group', async (t) => {
  const r = await stack.cli(['tenant', 'remove', 'acme', '--yes']);
  t.equal(r.code, 0, r.stderr);
  if (cgroups.version !== 'unavailable') {
    const { existsSync } = await import('node:fs');
    t.notOk(existsSync(tenantCgroup(cgroups, stack.home, 'acme')!), 'its group is gone');
  }
});
