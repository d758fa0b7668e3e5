/**
 * The compiled worker as PM2 runs it: two tenants, two processes, two databases on one
 * PostgreSQL. The same HTTP suite runs against each; then isolation, refusal to start
 * on bad configuration, and graceful shutdown with a request in flight.
 */
import t, { type Test } from 'tap';
import { chmodSync, copyFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import postgres from 'postgres';
import { freePort } from '../../src/common/ports.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { pollsHttpSuite, expectError } from '../app/http-suite.js';
import { adminSql, provisionTenant, tableCounts, type TestTenant } from './tenant-db.js';
import { httpClient, staleBuild, startWorker, type WorkerProcess } from './worker-process.js';

t.setTimeout(60_000);

const stale = staleBuild();
if (stale) {
  t.fail(stale);
  process.exit(1);
}

const pg = await startTestPostgres(t);
const tenants: TestTenant[] = [await provisionTenant(t, pg, 'client1'), await provisionTenant(t, pg, 'client2')];
const workers = new Map<string, WorkerProcess>();
for (const tenant of tenants) {
  workers.set(tenant.name, await startWorker(t, { ...tenant.env, PORT: String(await freePort()) }));
}
const [one, two] = tenants as [TestTenant, TestTenant];
const clientOf = (tn: TestTenant) => httpClient(workers.get(tn.name)!.port, tn.host);

t.test('each worker is ready, and idle it stays small', async (t) => {
  for (const tenant of tenants) {
    const w = workers.get(tenant.name)!;
    const res = await httpClient(w.port, 'probe.invalid')({ method: 'GET', url: '/readyz' });
    t.equal(res.statusCode, 200, `${tenant.name} /readyz`);
    const rss = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(w.child.pid)]).toString().trim());
    // Under tap, children also load tap's processinfo hook (+~20 MB); alone it is ~70 MB.
    t.comment(`${tenant.name}: pid ${w.child.pid}, RSS ${Math.round(rss / 1024)} MB`);
    t.ok(rss > 0 && rss < 200 * 1024, 'RSS below 200 MB');
  }
});

for (const tenant of tenants) {
  await t.test(`the HTTP contract, on the ${tenant.name} worker`, (t) =>
    pollsHttpSuite(t, { client: clientOf(tenant), tenant: tenant.name, counts: () => tableCounts(tenant.inspect) }),
  );
}

t.test('a poll created in one tenant does not appear in the other', async (t) => {
  const made = await clientOf(one)({ method: 'POST', url: '/api/polls', payload: { question: 'Only for client1', choices: ['a', 'b'] } });
  t.equal(made.statusCode, 201);
  const id = (JSON.parse(made.body) as { id: number }).id;
  const theirs = await clientOf(two)({ method: 'GET', url: '/api/polls' });
  t.notMatch(theirs.body, 'Only for client1');
  const questions = (JSON.parse(theirs.body) as { question: string }[]).map((p) => p.question);
  t.notOk(questions.some((q) => q.includes('client1')), 'client2 sees none of client1 polls');
  const page = await clientOf(two)({ method: 'GET', url: '/' });
  t.notMatch(page.body, 'client1');
  const [row] = await two.inspect`select count(*)::int as n from polls where question = 'Only for client1'`;
  t.equal(row!.n, 0, 'not in the other database either');
  // Ids are per database: the same id in the other tenant is another poll or nothing.
  const same = await clientOf(two)({ method: 'GET', url: `/api/polls/${id}` });
  t.notMatch(same.body, 'Only for client1');
});

t.test("a worker refuses the other tenant's host with 421", async (t) => {
  const res = await httpClient(workers.get('client1')!.port, two.host)({ method: 'GET', url: '/api/polls' });
  expectError(t, res, 421, 'client2 host on client1 worker');
  t.same(JSON.parse(res.body), { statusCode: 421, error: 'Misdirected Request', message: 'this server does not serve that host' });
  const spoof = await httpClient(workers.get('client1')!.port, one.host)({
    method: 'GET',
    url: '/api/tenant',
    headers: { 'x-forwarded-host': two.host },
  });
  t.same(JSON.parse(spoof.body), { tenant: 'client1' }, 'X-Forwarded-Host changes nothing');
});

t.test("a worker's credentials cannot open the other tenant's database", async (t) => {
  for (const database of ['client2', 'postgres']) {
    const sql = postgres({ host: pg.host, port: pg.port, database, username: one.name, password: one.password, max: 1, onnotice: () => {} });
    const err = await sql`select 1`.then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    t.equal(err?.code, '42501', `connecting to ${database} as client1: permission denied`);
    await sql.end({ timeout: 1 });
  }
  const own = postgres({ host: pg.host, port: pg.port, database: 'client1', username: 'client1', password: one.password, max: 1 });
  const [role] = await own<{ superuser: boolean; createdb: boolean; createrole: boolean }[]>`
    select rolsuper as superuser, rolcreatedb as createdb, rolcreaterole as createrole from pg_roles where rolname = current_user`;
  t.same(role, { superuser: false, createdb: false, createrole: false }, 'the tenant role holds no extra power');
  await own.end({ timeout: 1 });
});

function oneLine(t: Test, stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter(Boolean);
  t.equal(lines.length, 1, `exactly one line on stderr: ${JSON.stringify(stderr)}`);
  t.match(lines[0], pattern);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
}

t.test('a missing TENANT: exit 1, one clear line, no stack trace', async (t) => {
  const { TENANT: _omit, ...env } = one.env;
  const w = await startWorker(t, { ...env, PORT: String(await freePort()) }, { waitReady: false });
  const { code } = await w.exited;
  t.equal(code, 1);
  oneLine(t, w.stderr(), /^silo worker: invalid configuration: must have required property 'TENANT'$/);
  t.equal(w.stdout(), '', 'nothing on stdout');
});

t.test('a password file readable by others: refused', async (t) => {
  const open = `${one.passwordFile}-open`;
  copyFileSync(one.passwordFile, open);
  chmodSync(open, 0o644);
  const w = await startWorker(t, { ...one.env, DB_PASSWORD_FILE: open, PORT: String(await freePort()) }, { waitReady: false });
  const { code } = await w.exited;
  t.equal(code, 1);
  oneLine(t, w.stderr(), /^silo worker: invalid configuration: DB_PASSWORD_FILE: .* is readable by group or others \(mode 0644\); chmod 600 it$/);
});

t.test('a port already taken: exit 1, one line', async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const port = (blocker.address() as { port: number }).port;
  const w = await startWorker(t, { ...one.env, PORT: String(port) }, { waitReady: false });
  const { code } = await w.exited;
  t.equal(code, 1);
  oneLine(t, w.stderr(), new RegExp(`^silo worker: cannot start on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
});

t.test('SIGTERM finishes the request in flight, then exits 0', async (t) => {
  const w = workers.get('client1')!;
  // Hold a lock the worker's next query must wait for: a request stays in flight.
  const lockSql = adminSql(pg, one.name);
  t.teardown(() => lockSql.end({ timeout: 1 }));
  const locker = await lockSql.reserve();
  await locker`begin`;
  await locker`lock table polls in access exclusive mode`;
  const inFlight = clientOf(one)({ method: 'GET', url: '/api/polls' });
  for (let i = 0; i < 100; i++) {
    const [row] = await one.inspect<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where application_name = 'silo-client1' and wait_event_type = 'Lock'`;
    if (row!.n > 0) break;
    await sleep(20);
  }
  const signalled = Date.now();
  w.child.kill('SIGTERM');
  await sleep(300);
  t.equal(w.child.exitCode, null, 'still running while the request is in flight');
  const late = await httpClient(w.port, one.host)({ method: 'GET', url: '/healthz' }).then(
    (r) => r.statusCode,
    (e: { code?: string }) => e.code,
  );
  t.ok(late === 503 || late === 'ECONNREFUSED' || late === 'ECONNRESET', `new requests are turned away (${late})`);
  await locker`commit`;
  locker.release();
  const res = await inFlight;
  t.equal(res.statusCode, 200, 'the in-flight request completed');
  t.ok(Array.isArray(JSON.parse(res.body)));
  const { code, signal } = await w.exited;
  t.equal(code, 0, 'exit code 0');
  t.equal(signal, null);
  // Exit code 0 is the proof it closed by itself: had closing hung, close-with-grace would
  // have ended it with exit 1 after SHUTDOWN_GRACE_MS. How long it took is a figure.
  t.comment(`figures: scenario=sigterm-in-flight signal_to_exit_ms=${Date.now() - signalled}`);
  t.notMatch(w.stderr(), /\S/, 'nothing on stderr');
});
