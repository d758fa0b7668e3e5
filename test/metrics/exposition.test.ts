/**
 * The exposition in-process (no stack): every metric of a full snapshot in Prometheus
 * text; 1,000 tenants stay within a fixed number of series each; the request counts a
 * worker writes are read strictly (a tenant's file that is a link, a FIFO, too big or
 * of another shape counts for nothing).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createExposition } from '../../src/metrics/exposition.js';
import { readRequestCounts } from '../../src/metrics/request-counts.js';
import { ttlCache } from '../../src/metrics/ttl-cache.js';
import type { Snapshot, TenantSample } from '../../src/metrics/snapshot.js';
import { LATENCY_BUCKETS_S, type RequestCounts } from '../../src/contract/request-counts.js';
import { countWake, type TenantSleep } from '../../src/hibernate/state.js';

const counts = (n: number): RequestCounts => ({ v: 1, since: 1, classes: { '2xx': n, '3xx': 0, '4xx': 2, '5xx': 1 }, buckets: [n, 2, 1, 0, 0, 0], sum: n * 0.002 + 0.05 });

/** A tenant with every figure, as an awake, busy one has. */
function busy(name: string, at: number): TenantSample {
  const sleep: TenantSleep = { asleep: false };
  countWake(sleep, 300);
  countWake(sleep, 1800);
  countWake(sleep, undefined);
  return {
    name,
    state: 'awake',
    memoryBytes: 70e6,
    cpuSeconds: 12.5,
    restarts: 1,
    requests: counts(100),
    wakes: sleep.wakes!,
    databaseBytes: 8e6,
    databaseConnections: 1,
    lastBackupAt: at - 3_600_000,
    lastBackupOk: true,
    certificateExpiresAt: at + 86_400_000 * 60,
  };
}

const series = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));

t.test('every metric of a snapshot, in Prometheus text', async (t) => {
  const at = Date.now();
  const snap: Snapshot = {
    at,
    tenants: [busy('acme', at), { name: 'sleepy', state: 'hibernated', databaseBytes: 7e6, databaseConnections: 0, lastBackupOk: false }],
    servers: [{ name: 'local', up: true, maxConnections: 400, connections: 12, budget: 389 }, { name: 'eu1', up: false }],
  };
  const text = await createExposition().render(snap);
  const lines = series(text);
  const has = (line: string) => t.ok(lines.includes(line), line);
  has('silo_tenant_state{tenant="acme",state="awake"} 1');
  has('silo_tenant_state{tenant="acme",state="hibernated"} 0');
  has('silo_tenant_state{tenant="sleepy",state="hibernated"} 1');
  has('silo_tenant_requests_total{tenant="acme",class="2xx"} 100');
  has('silo_tenant_requests_total{tenant="acme",class="5xx"} 1');
  has(`silo_tenant_request_duration_seconds_bucket{tenant="acme",le="${LATENCY_BUCKETS_S[0]}"} 100`);
  has('silo_tenant_request_duration_seconds_bucket{tenant="acme",le="+Inf"} 103');
  has('silo_tenant_request_duration_seconds_count{tenant="acme"} 103');
  has('silo_tenant_memory_bytes{tenant="acme"} 70000000');
  has('silo_tenant_cpu_seconds_total{tenant="acme"} 12.5');
  has('silo_tenant_restarts_total{tenant="acme"} 1');
  has('silo_tenant_wakes_total{tenant="acme",result="ok"} 2');
  has('silo_tenant_wakes_total{tenant="acme",result="failed"} 1');
  has('silo_tenant_wake_duration_seconds_bucket{tenant="acme",le="0.5"} 1');
  has('silo_tenant_wake_duration_seconds_count{tenant="acme"} 2');
  has('silo_tenant_database_bytes{tenant="sleepy"} 7000000');
  has('silo_tenant_database_connections{tenant="acme"} 1');
  has('silo_tenant_backup_age_seconds{tenant="acme"} 3600');
  has('silo_tenant_backup_last_ok{tenant="sleepy"} 0');
  has(`silo_tenant_certificate_expiry_timestamp_seconds{tenant="acme"} ${(at + 86_400_000 * 60) / 1000}`);
  has('silo_tenants{state="awake"} 1');
  has('silo_server_up{server="eu1"} 0');
  has('silo_server_connections{server="local"} 12');
  has('silo_server_max_connections{server="local"} 400');
  t.notOk(lines.some((l) => l.includes('tenant="sleepy"') && /^silo_tenant_(requests|request_duration|memory|cpu|restarts|wake)/.test(l)), 'a hibernated tenant that never served has no request, process or wake series');
  t.match(text, /# TYPE silo_tenant_request_duration_seconds histogram/);
  t.match(text, /# TYPE silo_tenant_requests_total counter/);
});

t.test('1,000 tenants: bounded series, figures for the bench', async (t) => {
  const at = Date.now();
  const tenants = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? busy(`t${i}`, at) : ({ name: `t${i}`, state: 'hibernated', databaseBytes: 7e6, databaseConnections: 0, lastBackupAt: at, lastBackupOk: true }) as TenantSample));
  const exposition = createExposition();
  const snap: Snapshot = { at, tenants, servers: [{ name: 'local', up: true, maxConnections: 400, connections: 12, budget: 389 }] };
  await exposition.render(snap);
  const start = performance.now();
  const text = await exposition.render(snap);
  const ms = performance.now() - start;
  const n = series(text).length;
  const perBusy = series(await createExposition().render({ ...snap, tenants: [busy('x', at)], servers: [] })).filter((l) => l.includes('tenant="x"')).length;
  t.equal(perBusy, 33, 'one tenant with every figure: 33 series');
  t.ok(n <= 1000 * perBusy + 20, `${n} series for 1,000 tenants`);
  t.equal(new Set(series(text).map((l) => l.replace(/\{.*/, '').replace(/_(bucket|sum|count)$/, ''))).size <= 20, true, 'at most 20 metric names');
  t.comment(`# figures: exposition of 1,000 tenants (100 busy): ${n} series, ${text.length} bytes, rendered in ${ms.toFixed(1)} ms`);
});

t.test("a worker's counts file is read strictly", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-counts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'requests.json');
  writeFileSync(file, JSON.stringify(counts(5)));
  t.same(readRequestCounts(file)?.classes['2xx'], 5, 'a file of the right shape');
  for (const [what, body] of [
    ['not JSON', 'nope'],
    ['a negative count', JSON.stringify({ ...counts(5), sum: -1 })],
    ['a bucket too many', JSON.stringify({ ...counts(5), buckets: [1, 2, 3, 4, 5, 6, 7] })],
    ['a string for a number', JSON.stringify({ ...counts(5), classes: { '2xx': '5', '3xx': 0, '4xx': 0, '5xx': 0 } })],
    ['too big', JSON.stringify({ ...counts(5), pad: 'x'.repeat(2000) })],
  ] as const) {
    writeFileSync(file, body);
    t.equal(readRequestCounts(file), undefined, what);
  }
  const other = join(dir, 'elsewhere.json');
  writeFileSync(other, JSON.stringify(counts(9)));
  rmSync(file);
  symlinkSync(other, file);
  t.equal(readRequestCounts(file), undefined, 'a symbolic link is not followed');
  rmSync(file);
  execFileSync('mkfifo', [file]);
  t.equal(readRequestCounts(file), undefined, 'a FIFO is not read (and does not block)');
  t.equal(readRequestCounts(join(dir, 'none.json')), undefined, 'no file: no counts');
});

t.test('a cached value is loaded once per TTL, by concurrent callers together', async (t) => {
  let loads = 0;
  const get = ttlCache(60_000, async () => ++loads);
  t.same(await Promise.all([get(), get(), get()]), [1, 1, 1]);
  t.equal(await get(), 1);
  let fails = true;
  const flaky = ttlCache(60_000, async () => {
    if (fails) throw new Error('down');
    return 'ok';
  });
  await t.rejects(flaky());
  fails = false;
  t.equal(await flaky(), 'ok', 'a failure is not cached');
});
