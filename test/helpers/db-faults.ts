/**
 * Scenario 3, shared by its two files: a tenant ("victim") on its own database server
 * while that server fails. Its API answers 503 within the worker's timeouts (no request
 * hangs), /readyz turns 503, the tenants on the other server fail nothing, and the victim
 * recovers by itself when the server is back, without a worker restart.
 */
import type { Test } from 'tap';
import { Agent } from 'node:http';
import { startStack, type Stack } from './stack.js';
import { loops, printFigures, send, siloStatus, sleep, tenantLoad, waitUntil } from './resilience.js';

/** The worker's defaults (src/worker/config.ts): DB_CONNECT_TIMEOUT_S 3, DB_STATEMENT_TIMEOUT_MS 5000, REQUEST_TIMEOUT_MS 10000. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** What "within the configured timeout" allows on top of it: scheduling on a busy 2-core box. */
const SLACK_MS = 2500;

export interface Fault {
  /** register the victim's server (its admin URL as the worker should reach it) */
  serverUrl: string;
  fail(): Promise<void>;
  heal(): Promise<void>;
  /** how long to keep the server failed once the victim answers 503 */
  outageMs: number;
}

interface Sample {
  kind: 'GET' | 'POST' | 'direct';
  start: number;
  end: number;
  status: number;
  error?: string;
  voter?: string;
}

export async function databaseFaultScenario(t: Test, scenario: string, setup: (t: Test) => Promise<Fault>): Promise<void> {
  // Everything inside the subtest: tap ends a root test that asserts at the top level
  // and then waits (autoend), which would tear the stack down under our feet.
  await t.test(`${scenario}: victim answers 503 in bounded time, others fail nothing, it recovers without a restart`, async (t) => {
    const stack: Stack = await startStack(t);
    const fault = await setup(t);

    const add = await stack.cli(['server', 'add', 'db2', fault.serverUrl]);
    if (add.code !== 0) throw new Error(`server add: ${add.stderr}`);
    const create = await stack.cli(['tenant', 'create', 'victim', '--server', 'db2']);
    if (create.code !== 0) throw new Error(`tenant create: ${create.stderr}`);
    t.match(create.stdout, /created tenant victim on server db2: live at/);
    const victimPort = stack.workerSocket('victim');
    const made = await send(victimPort, 'victim.localhost', '/api/polls', { method: 'POST', body: JSON.stringify({ question: 'Will the database come back?', choices: ['Yes', 'No'] }) });
    if (made.status !== 201) {
      const { readFileSync } = await import('node:fs');
      throw new Error(`victim poll: ${made.status} ${made.text}\n${readFileSync(`${stack.home}/logs/tenant-victim.out.log`, 'utf8').slice(-3000)}`);
    }
    const poll = JSON.parse(made.text) as { id: number; choices: { id: number }[] };

    const before = (await siloStatus(stack)).tenants.find((x) => x.name === 'victim')!;
    const others = ['client1', 'client2'].map((tenant) => tenantLoad(stack.httpPort, tenant, { concurrency: 2, path: '/api/polls' }));

    // The victim's own traffic: two readers and one voter through the proxy, one reader straight to its worker.
    const samples: Sample[] = [];
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let seq = 0;
    const victim = loops(4, async (i) => {
      const start = performance.now();
      if (i === 3) {
        const voter = `db-${seq++}`;
        const a = await send(stack.httpPort, 'victim.localhost', `/api/polls/${poll.id}/votes`, { agent, method: 'POST', body: JSON.stringify({ choiceId: poll.choices[0]!.id, voter }), timeoutMs: 60_000 });
        samples.push({ kind: 'POST', start, end: performance.now(), status: a.status, error: a.error, voter });
      } else if (i === 2) {
        const a = await send(victimPort, 'victim.localhost', '/api/polls', { timeoutMs: 60_000 });
        samples.push({ kind: 'direct', start, end: performance.now(), status: a.status, error: a.error });
      } else {
        const a = await send(stack.httpPort, 'victim.localhost', '/api/polls', { agent, timeoutMs: 60_000 });
        samples.push({ kind: 'GET', start, end: performance.now(), status: a.status, error: a.error });
      }
      await sleep(20);
    });
    await sleep(1500);

    const failedAt = performance.now();
    await fault.fail();
    const to503Ms = await waitUntil('the victim to answer 503', 30_000, () => samples.some((s) => s.start >= failedAt && s.status === 503), 50);
    const ready = await send(stack.httpPort, 'victim.localhost', '/readyz', { timeoutMs: 30_000 });
    const readyDirect = await send(victimPort, 'anything.example', '/readyz', { timeoutMs: 30_000 });
    await sleep(fault.outageMs);

    const healedAt = performance.now();
    await fault.heal();
    const recoveryMs = await waitUntil('the victim to serve 200 again', 60_000, () => samples.some((s) => s.start >= healedAt && s.status === 200 && s.kind === 'GET'), 50);
    const readyAfter = await waitUntil('/readyz 200 again', 30_000, async () => (await send(victimPort, 'victim.localhost', '/readyz')).status === 200);
    await sleep(1500);
    await victim.stop();
    agent.destroy();
    const reports = await Promise.all(others.map((l) => l.stop()));
    const after = (await siloStatus(stack)).tenants.find((x) => x.name === 'victim')!;

    // Requests entirely inside the outage: each a 503, none slower than the timeout allows.
    const during = samples.filter((s) => s.start >= failedAt && s.end <= healedAt);
    const fine = (s: Sample) => s.status === 503 || s.status === (s.kind === 'POST' ? 201 : 200);
    const badDuring = during.filter((s) => !fine(s));
    const slowest = (kind: Sample['kind']) => Math.max(0, ...during.filter((s) => s.kind === kind).map((s) => s.end - s.start));
    const spanning = samples.filter((s) => s.start < healedAt && s.end > healedAt);
    const badSpanning = spanning.filter((s) => !fine(s));
    const hung = samples.filter((s) => s.status === 0);
    const votes = samples.filter((s) => s.kind === 'POST');
    const ackedVoters = new Set(votes.filter((s) => s.status === 201).map((s) => s.voter!));

    // What the database holds: every acknowledged vote once; refused ones should be absent.
    const rows = await (async () => {
      const { default: postgres } = await import('postgres');
      const sql = postgres(fault.serverUrl, { database: 'victim', max: 1, onnotice: () => {} });
      try {
        return await sql<{ voter: string; n: number }[]>`select voter, count(*)::int as n from votes where voter like 'db-%' group by voter`;
      } finally {
        await sql.end({ timeout: 2 });
      }
    })();
    const inDb = new Map(rows.map((r) => [r.voter, r.n]));
    const lost = [...ackedVoters].filter((v) => !inDb.has(v)).length;
    const duplicated = rows.filter((r) => r.n > 1).length;
    const refusedButWritten = votes.filter((s) => s.status !== 201 && inDb.has(s.voter!)).length;

    for (const r of reports) t.comment(`${r.tenant}: ${r.sent} sent, ${r.failed} failed, statuses ${JSON.stringify(r.statuses)}, max ${Math.round(r.maxMs)} ms`);
    const statuses = (list: Sample[]) => JSON.stringify(list.reduce<Record<string, number>>((m, s) => ((m[s.status || s.error || '?'] = (m[s.status || s.error || '?'] ?? 0) + 1), m), {}));
    t.comment(`victim during the outage: ${during.length} requests, statuses ${statuses(during)}; spanning the heal: ${statuses(spanning)}`);
    const at = (s: Sample) => `${s.kind} ${s.status || s.error} [${Math.round(s.start - failedAt)}..${Math.round(s.end - failedAt)} ms after the fault]`;
    for (const s of [...badDuring, ...badSpanning, ...hung].slice(0, 10)) t.comment(`bad: ${at(s)}`);
    if (badDuring.length + badSpanning.length > 0) {
      // What the worker logged for answers other than the expected 503s: the error's code names the cause.
      const { readFileSync } = await import('node:fs');
      const lines = readFileSync(`${stack.home}/logs/tenant-victim.out.log`, 'utf8').split('\n');
      t.comment(lines.filter((l) => /"level":50/.test(l) && !/"statusCode":503/.test(l)).slice(-5).join('\n').slice(0, 4000));
    }
    if (after.restarts !== before.restarts) {
      const { readFileSync } = await import('node:fs');
      t.comment(`victim restarted; its error log:\n${readFileSync(`${stack.home}/logs/tenant-victim.err.log`, 'utf8').slice(-2000)}`);
      t.comment(readFileSync(`${stack.home}/logs/tenant-victim.out.log`, 'utf8').split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(-5).join('\n').slice(0, 3000));
    }
    printFigures(t, scenario, {
      sent: reports.reduce((n, r) => n + r.sent, 0),
      failed: reports.reduce((n, r) => n + r.failed, 0),
      wrongTenant: 0,
      victimSent: samples.length,
      victimDuringOutage: during.length,
      victimBad: badDuring.length + badSpanning.length + hung.length,
      to503Ms,
      maxGetMs: slowest('GET'),
      maxPostMs: slowest('POST'),
      maxDirectMs: slowest('direct'),
      recoveryMs,
      readyRecoveryMs: readyAfter,
      votesAcked: ackedVoters.size,
      votesLost: lost,
      votesDuplicated: duplicated,
      refusedButWritten,
    });

    for (const r of reports) {
      t.ok(r.sent > 50, `${r.tenant}: the load ran (${r.sent})`);
      t.equal(r.failed, 0, `${r.tenant} on the other server failed nothing: ${r.errors.join('; ')}`);
    }
    t.ok(during.length > 0, 'the victim was asked during the outage');
    t.same(badDuring.map((s) => `${s.kind} ${s.status || s.error}`), [], 'during the outage the victim answers 503 (or 200), nothing else');
    t.same(badSpanning.map((s) => `${s.kind} ${s.status || s.error}`), [], 'requests spanning the recovery answer 503 or 200');
    t.same(hung.map((s) => `${s.kind} ${s.error}`), [], 'no request hangs or errors');
    const bound = REQUEST_TIMEOUT_MS + SLACK_MS;
    t.ok(slowest('direct') <= bound, `straight to the worker, the slowest outage answer took ${Math.round(slowest('direct'))} ms (bound ${bound})`);
    t.ok(slowest('GET') <= bound, `through the proxy, the slowest outage GET took ${Math.round(slowest('GET'))} ms (bound ${bound})`);
    t.ok(slowest('POST') <= bound, `through the proxy, the slowest outage POST took ${Math.round(slowest('POST'))} ms (bound ${bound})`);
    t.equal(ready.status, 503, '/readyz through the proxy turns 503');
    t.equal(readyDirect.status, 503, '/readyz on the worker turns 503');
    t.equal(lost, 0, 'no acknowledged vote is lost');
    t.equal(duplicated, 0, 'no vote is recorded twice');
    t.equal(after.restarts, before.restarts, 'the victim recovered without a restart');
    t.equal(after.pid, before.pid, 'same process');
  });
}
