/**
 * Hibernation over the whole stack through nginx (SILO_HIBERNATE_AFTER=2s): an idle
 * tenant's worker stops and holds no database connection; its next request wakes it with
 * its own data; requests arriving during a wake (a POST among them) are all served; a
 * busy tenant never sleeps; a wake that fails answers 503 with Retry-After once and does
 * not restart in a loop; `tenant sleep | wake` and `status` by hand.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { startStack, type Stack } from '../helpers/stack.js';
import { keptAwake, pm2Cli, serverUrl, siloStatus, waitUntil, sleep } from '../helpers/resilience.js';
import { urlOptions } from '../helpers/postgres.js';

const HIBERNATE_AFTER_MS = 2000;

async function workerState(stack: Stack, tenant: string): Promise<{ worker: string; pid?: number; idle?: string; lastRequestAt?: string; wakeError?: string }> {
  const s = await siloStatus(stack);
  return s.tenants.find((x) => x.name === tenant) as never;
}

const hibernated = (stack: Stack, tenant: string) => waitUntil(`${tenant} hibernated`, 20_000, async () => (await workerState(stack, tenant)).worker === 'hibernated', 200);

async function connectionsTo(stack: Stack, db: string): Promise<number> {
  const sql = postgres({ ...urlOptions(serverUrl(stack)), max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [r] = await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${db}`;
    return r!.n;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

function wakerLog(stack: Stack): string {
  try {
    return readFileSync(join(stack.home, 'logs', 'waker.out.log'), 'utf8');
  } catch {
    return '';
  }
}

t.test('hibernation through nginx', async (t) => {
  const stack = await startStack(t, { proxy: 'nginx', env: { SILO_HIBERNATE_AFTER: `${HIBERNATE_AFTER_MS}ms` } });
  const questions: Record<'client1' | 'client2', string[]> = { client1: [], client2: [] };
  for (const tenant of ['client1', 'client2'] as const) {
    const r = await stack.http(`${tenant}.localhost`, '/api/polls');
    questions[tenant] = r.json().map((p: { question: string }) => p.question);
  }
  const created = await stack.cli(['tenant', 'create', 'awake', '--hibernate-after', '0']);
  t.equal(created.code, 0, created.stderr);

  await t.test('an idle tenant hibernates: no process, no database connection; one set to 0 stays up', async (t) => {
    await hibernated(stack, 'client1');
    const s = await workerState(stack, 'client1');
    t.equal(s.pid, undefined, 'no pid');
    t.ok(s.lastRequestAt, 'status shows when it last served a request');
    t.match(s.idle, /^\d+s$/, 'and how long ago');
    const pm2 = await pm2Cli(stack, ['jlist']);
    t.notMatch(pm2.stdout, /"name":"tenant-client1"/, 'PM2 runs no app for it');
    t.equal(await connectionsTo(stack, 'client1'), 0, 'no database connection');
    const human = await stack.cli(['status']);
    t.match(human.stdout, /client1\s+ready\s+hibernated\s+\d+s/);
    t.equal((await workerState(stack, 'awake')).worker, 'online', '--hibernate-after 0: never hibernated');
  });

  await t.test('the next request wakes it, with its own data and nobody else woken', async (t) => {
    await hibernated(stack, 'client2');
    const r = await stack.http('client1.localhost', '/api/polls');
    t.equal(r.status, 200);
    t.same(r.json().map((p: { question: string }) => p.question), questions.client1);
    t.same((await stack.http('client1.localhost', '/api/tenant')).json(), { tenant: 'client1' });
    t.equal((await keptAwake(stack.httpPort, 'client1.localhost', () => workerState(stack, 'client1'))).worker, 'online');
    t.equal((await workerState(stack, 'client2')).worker, 'hibernated', 'client2 still sleeps');
    t.equal((await stack.http('nobody.localhost', '/api/tenant')).status, 404, 'an unknown host is still 404');
  });

  await t.test('requests that arrive during a wake all wait and are served, a POST with its body too', async (t) => {
    const slept = await stack.cli(['tenant', 'sleep', 'client2']);
    t.equal(slept.code, 0, slept.stderr);
    t.equal((await workerState(stack, 'client2')).worker, 'hibernated');
    const gets = Array.from({ length: 8 }, () => stack.http('client2.localhost', '/api/polls'));
    const body = { question: 'Asked while asleep?', choices: ['yes', 'no', 'maybe'] };
    const post = stack.http('client2.localhost', '/api/polls', { method: 'POST', body });
    const answers = await Promise.all(gets);
    t.same(answers.map((a) => a.status), Array(8).fill(200), 'every GET answered 200');
    for (const a of answers) t.same(a.json().map((p: { question: string }) => p.question).filter((q: string) => questions.client2.includes(q)), questions.client2);
    const created = await post;
    t.equal(created.status, 201, created.text);
    t.match(created.json(), { question: body.question, choices: [{ text: 'yes' }, { text: 'no' }, { text: 'maybe' }] });
    const again = await stack.http('client2.localhost', `/api/polls/${created.json().id}`);
    t.equal(again.json().question, body.question, 'the poll was stored once, in client2');
    const list = (await stack.http('client2.localhost', '/api/polls')).json() as { question: string }[];
    t.equal(list.filter((p) => p.question === body.question).length, 1, 'exactly once');
  });

  await t.test('a busy tenant is never hibernated', async (t) => {
    await stack.http('client1.localhost', '/api/tenant');
    // Read while kept busy: `silo status` can take longer than the idle time on a loaded machine.
    const pid = (await keptAwake(stack.httpPort, 'client1.localhost', () => workerState(stack, 'client1'))).pid;
    t.ok(pid, 'awake');
    let failed = 0;
    let sent = 0;
    // Requests a quarter of the idle time apart, for three times the idle time.
    const until = Date.now() + 3 * HIBERNATE_AFTER_MS;
    while (Date.now() < until) {
      const r = await stack.http('client1.localhost', '/api/tenant');
      sent++;
      if (r.status !== 200) failed++;
      await sleep(HIBERNATE_AFTER_MS / 4);
    }
    t.equal(failed, 0, `${sent} requests, none failed`);
    const after = (await keptAwake(stack.httpPort, 'client1.localhost', () => workerState(stack, 'client1'))).pid;
    t.equal(after, pid, 'the same worker served them all', { log: after === pid ? '' : wakerLog(stack).split('\n').filter((l) => l.includes('client1')).slice(-6) });
  });

  await t.test('a wake that fails answers 503 with Retry-After, once, and does not loop', async (t) => {
    await hibernated(stack, 'client2');
    const failsBefore = (wakerLog(stack).match(/"wake failed","tenant":"client2"/g) ?? []).length;
    t.equal((await pm2Cli(stack, ['stop', 'postgres-local'])).code, 0);
    t.teardown(() => pm2Cli(stack, ['start', 'postgres-local']));
    const r = await stack.http('client2.localhost', '/api/polls');
    t.equal(r.status, 503);
    t.ok(Number(r.headers['retry-after']) > 0, `Retry-After: ${r.headers['retry-after']}`);
    t.match(r.json(), { statusCode: 503, error: 'Service Unavailable' });
    const second = await stack.http('client2.localhost', '/api/polls');
    t.equal(second.status, 503, 'within the cool-down: 503 again');
    t.ok(second.headers['retry-after']);
    await sleep(1500);
    const pm2 = await pm2Cli(stack, ['jlist']);
    t.notMatch(pm2.stdout, /"name":"tenant-client2"/, 'no worker left restarting');
    t.equal((wakerLog(stack).match(/"wake failed","tenant":"client2"/g) ?? []).length - failsBefore, 1, 'one attempt, not a loop');
    const s = await workerState(stack, 'client2');
    t.equal(s.worker, 'hibernated');
    t.ok(s.wakeError, `status says why: ${s.wakeError}`);

    t.equal((await pm2Cli(stack, ['start', 'postgres-local'])).code, 0);
    await waitUntil('client2 wakes once the database is back', 30_000, async () => (await stack.http('client2.localhost', '/api/tenant')).status === 200, 500);
    t.same((await stack.http('client2.localhost', '/api/tenant')).json(), { tenant: 'client2' });
  });

  await t.test('tenant sleep and wake by hand', async (t) => {
    const sleepIt = await stack.cli(['tenant', 'sleep', 'awake']);
    t.equal(sleepIt.code, 0, sleepIt.stderr);
    t.equal(sleepIt.stdout, 'tenant awake is hibernated: its next request wakes it\n');
    t.equal((await workerState(stack, 'awake')).worker, 'hibernated');
    const wake = await stack.cli(['tenant', 'wake', 'awake']);
    t.equal(wake.code, 0, wake.stderr);
    t.match(wake.stdout, /^tenant awake is awake \(started in \d+ ms\)\n$/);
    t.equal((await workerState(stack, 'awake')).worker, 'online');
    const unknown = await stack.cli(['tenant', 'sleep', 'nobody']);
    t.equal(unknown.code, 1);
    t.equal(unknown.stderr, 'silo: no tenant named "nobody"\n');
    const bad = await stack.cli(['tenant', 'create', 'x1', '--hibernate-after', 'soon']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /^silo: invalid --hibernate-after "soon"/);
  });

  await t.test('migrate, backup and repair work on a hibernated tenant without waking it', async (t) => {
    t.equal((await stack.cli(['tenant', 'sleep', 'client2'])).code, 0);
    for (const args of [['migrate', '--tenant', 'client2'], ['tenant', 'backup', 'client2'], ['tenant', 'repair', 'client2']]) {
      const r = await stack.cli(args);
      t.equal(r.code, 0, `silo ${args.join(' ')}: ${r.stderr}`);
    }
    t.equal((await workerState(stack, 'client2')).worker, 'hibernated', 'still hibernated');
    t.notMatch((await pm2Cli(stack, ['jlist'])).stdout, /"name":"tenant-client2"/, 'no worker was started');
    t.same((await stack.http('client2.localhost', '/api/tenant')).json(), { tenant: 'client2' }, 'and it still wakes');
  });

  await t.test('a socket file left behind in its folder (a worker killed -9) does not keep it asleep', async (t) => {
    t.equal((await stack.cli(['tenant', 'sleep', 'awake'])).code, 0);
    const socket = stack.workerSocket('awake');
    writeFileSync(socket, ''); // stands in for a dead worker's socket: nobody listens there
    const r = await stack.http('awake.localhost', '/api/tenant');
    t.same(r.json(), { tenant: 'awake' }, 'the new worker binds beside it and renames its socket over it');
    t.equal((await workerState(stack, 'awake')).worker, 'online');
  });

  await t.test('down, then up: a hibernated tenant stays asleep, and its next request wakes it', async (t) => {
    t.equal((await stack.cli(['tenant', 'sleep', 'client1'])).code, 0);
    const down = await stack.cli(['down']);
    t.equal(down.code, 0, down.stderr);
    const up = await stack.cli(['up']);
    t.equal(up.code, 0, up.stderr);
    t.notMatch(up.stdout, /started tenant-client1/, 'up did not start it');
    t.match(up.stdout, /started waker/);
    t.equal((await workerState(stack, 'client1')).worker, 'hibernated');
    t.same((await stack.http('client1.localhost', '/api/tenant')).json(), { tenant: 'client1' });
  });
});
