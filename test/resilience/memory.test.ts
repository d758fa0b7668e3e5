/**
 * Scenario 5, memory ceiling: a tenant whose limit (`--max-memory 40M`) is below what a
 * worker needs (~70 MB RSS) is restarted by PM2 (again and again, or until the waker stops
 * it), alone: its neighbours keep their process, their restart count of 0, and fail none
 * of their requests.
 * PM2_WORKER_INTERVAL=1000 makes PM2 sample memory every second (default 30 s).
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { printFigures, siloStatus, sleep, tenantLoad, waitUntil } from '../helpers/resilience.js';

t.setTimeout(170_000);

await t.test('a worker above its memory limit is restarted alone', async (t) => {
  const stack = await startStack(t, { env: { PM2_WORKER_INTERVAL: '1000' } });
  const neighbours = ['client1', 'client2'];
  const before = await siloStatus(stack);
  for (const n of neighbours) t.equal(before.tenants.find((x) => x.name === n)!.restarts, 0, `${n}: no restart yet`);

  const loads = neighbours.map((tenant) => tenantLoad(stack.httpPort, tenant, { concurrency: 2, path: '/api/polls' }));
  const created = await stack.cli(['tenant', 'create', 'hog', '--max-memory', '40M']);
  // PM2 samples the worker's node process itself (fork mode), which passes 40M while it
  // boots: it may be stopped before it ever answers, and then create says so (the tenant
  // is registered). A request that finds it down goes to the waker, which stops a worker
  // that dies twice while starting (503 with Retry-After, no restart loop): so the hog is
  // either restarted again and again or stopped, alone, whichever comes first.
  t.ok(created.code === 0 || /timed out after \d+ ms waiting for (the worker of hog|hog\.\S+ through the proxy)/.test(created.stderr), `tenant create: ${created.stderr}`);
  const createdAt = performance.now();

  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const memoryLines = () => readFileSync(join(stack.env.PM2_HOME!, 'pm2.log'), 'utf8').split('\n').filter((l) => /exceeds --max-memory-restart/.test(l));
  const firstRestartMs = await waitUntil('the first memory restart in pm2.log', 30_000, async () => memoryLines().length >= 1, 250);
  // The neighbours stay under load through a few more of the hog's restarts (or its stop).
  await sleep(5000);
  const reports = await Promise.all(loads.map((l) => l.stop()));
  const after = await siloStatus(stack);
  const hog = after.tenants.find((x) => x.name === 'hog');
  const lines = memoryLines();
  const threeRestartsMs = performance.now() - createdAt;

  for (const r of reports) t.comment(`${r.tenant}: ${r.sent} sent, ${r.failed} failed, ${r.retried} retried on a closed keep-alive connection, statuses ${JSON.stringify(r.statuses)}, max ${Math.round(r.maxMs)} ms`);
  t.comment(`hog: ${lines.length} memory restarts in pm2.log (worker ${hog?.worker ?? 'gone'}), e.g. ${lines[0]?.slice(0, 160)}`);
  printFigures(t, 'memory', {
    sent: reports.reduce((n, r) => n + r.sent, 0),
    failed: reports.reduce((n, r) => n + r.failed, 0),
    wrongTenant: reports.reduce((n, r) => n + r.wrong, 0),
    hogRestarts: lines.length,
    firstRestartMs,
    watchedMs: Math.round(threeRestartsMs),
    retried: reports.reduce((n, r) => n + r.retried, 0),
    neighbourRestarts: neighbours.reduce((n, x) => n + (after.tenants.find((y) => y.name === x)!.restarts ?? 0), 0),
  });

  t.ok(lines.length >= 1, `PM2 restarted the hog for its memory (${lines.length} times)`);
  for (const n of neighbours) {
    const b = before.tenants.find((x) => x.name === n)!;
    const a = after.tenants.find((x) => x.name === n)!;
    t.equal(a.restarts, 0, `${n}: restart count still 0`);
    t.equal(a.pid, b.pid, `${n}: same process`);
    t.equal(a.worker, 'online');
  }
  for (const r of reports) {
    t.ok(r.sent > 50, `${r.tenant}: the load ran (${r.sent})`);
    t.equal(r.failed, 0, `${r.tenant} failed nothing: ${r.errors.join('; ')}`);
  }
});
