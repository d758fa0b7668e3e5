/**
 * Scenario 4, rolling operations: `silo reload` (every worker restarted one at a time)
 * and `silo migrate` (a real additive migration) while every tenant takes votes and
 * reads. No request fails, and no acknowledged vote is lost or counted twice: each 201
 * is compared with the rows in that tenant's database afterwards.
 */
import t from 'tap';
import { Agent } from 'node:http';
import { pollsApp } from '../helpers/polls-app.js';
import { startStack } from '../helpers/stack.js';
import { loops, printFigures, restarts, send, serverUrl, sleep, withTenantDb } from '../helpers/resilience.js';

t.setTimeout(170_000);

const stack = await startStack(t);
const TENANTS = ['client1', 'client2'];

interface Voting {
  tenant: string;
  pollId: number;
  choiceIds: number[];
  sent: number;
  failed: number;
  acked: Map<string, number>; // voter -> choiceId
  unacked: Set<string>; // voters whose request failed: a row may or may not exist
  reads: number;
  readFailed: number;
  wrong: number;
  errors: string[];
  maxMs: number;
}

const votings: Voting[] = [];
for (const tenant of TENANTS) {
  const polls = JSON.parse((await stack.http(`${tenant}.localhost`, '/api/polls')).text) as { id: number; choices: { id: number }[] }[];
  votings.push({ tenant, pollId: polls[0]!.id, choiceIds: polls[0]!.choices.map((c) => c.id), sent: 0, failed: 0, acked: new Map(), unacked: new Set(), reads: 0, readFailed: 0, wrong: 0, errors: [], maxMs: 0 });
}

function startVoting(v: Voting) {
  const agent = new Agent({ keepAlive: true, maxSockets: 3 });
  const host = `${v.tenant}.localhost`;
  let seq = 0;
  const counters = { retried: 0 };
  const l = loops(3, async (i) => {
    if (i === 2) {
      // A reader: the polls with their counts.
      const a = await send(stack.httpPort, host, '/api/polls', { agent, timeoutMs: 20_000 }, counters);
      v.reads++;
      v.maxMs = Math.max(v.maxMs, a.ms);
      if (a.status !== 200) {
        v.readFailed++;
        if (v.errors.length < 10) v.errors.push(`GET ${a.status || a.error}: ${a.text.slice(0, 100)}`);
      } else if (!a.text.includes(`"id":${v.pollId},`)) v.wrong++;
      return;
    }
    const voter = `rl-${v.tenant}-${i}-${seq++}`;
    const choiceId = v.choiceIds[seq % v.choiceIds.length]!;
    const a = await send(stack.httpPort, host, `/api/polls/${v.pollId}/votes`, { agent, method: 'POST', body: JSON.stringify({ choiceId, voter }), timeoutMs: 20_000 });
    v.sent++;
    v.maxMs = Math.max(v.maxMs, a.ms);
    if (a.status === 201) {
      const body = JSON.parse(a.text) as { choiceId: number; votes: number };
      if (body.choiceId !== choiceId) v.wrong++;
      v.acked.set(voter, choiceId);
    } else {
      v.failed++;
      v.unacked.add(voter);
      if (v.errors.length < 10) v.errors.push(`POST ${a.status || a.error}: ${a.text.slice(0, 100)}`);
    }
  });
  return {
    async stop() {
      await l.stop();
      agent.destroy();
      return counters.retried;
    },
  };
}

await t.test('silo reload, then silo migrate, under votes and reads on every tenant', async (t) => {
  const restartsBefore = await restarts(stack);
  const voting = votings.map(startVoting);
  await sleep(1500);

  const r0 = performance.now();
  const reload = await stack.cli(['reload']);
  const reloadMs = performance.now() - r0;
  t.equal(reload.code, 0, `silo reload: ${reload.stderr}`);
  t.match(reload.stdout, /reloaded 2 workers/);

  await sleep(1000);
  // A real migration the running code tolerates (a column and an index), applied live.
  const dir = pollsApp(t, { migrations: { '0002_resilience.sql': 'alter table votes add column source text;\ncreate index votes_voter on votes (voter);\n' } });
  const m0 = performance.now();
  const migrate = await stack.cli(['migrate'], { SILO_APP: dir });
  const migrateMs = performance.now() - m0;
  t.equal(migrate.code, 0, `silo migrate: ${migrate.stderr}`);
  t.match(migrate.stdout, /2 of 2 tenants up to date, 0 failed/);

  await sleep(1500);
  const retried = (await Promise.all(voting.map((v) => v.stop()))).reduce((a, b) => a + b, 0);
  const restartsAfter = await restarts(stack);

  // Every acknowledged vote is in its tenant's database exactly once, and the counters agree.
  let lost = 0;
  let duplicated = 0;
  let ghosts = 0;
  let counterDrift = 0;
  for (const v of votings) {
    const rows = await withTenantDb(serverUrl(stack), v.tenant, async (sql) => {
      const votes = await sql<{ voter: string; choice_id: string; n: number }[]>`
        select voter, min(choice_id) as choice_id, count(*)::int as n from votes where voter like 'rl-%' group by voter`;
      const drift = await sql<{ id: string }[]>`
        select c.id from choices c left join votes v on v.choice_id = c.id group by c.id, c.votes having c.votes <> count(v.id)`;
      return { votes, drift: drift.length };
    });
    const inDb = new Map(rows.votes.map((r) => [r.voter, r]));
    for (const [voter, choiceId] of v.acked) {
      const row = inDb.get(voter);
      if (!row) lost++;
      else if (Number(row.choice_id) !== choiceId) lost++;
    }
    duplicated += rows.votes.filter((r) => r.n > 1).length;
    ghosts += rows.votes.filter((r) => !v.acked.has(r.voter) && !v.unacked.has(r.voter)).length;
    counterDrift += rows.drift;
    t.comment(`${v.tenant}: ${v.sent} votes sent, ${v.acked.size} acknowledged, ${v.failed} failed, ${rows.votes.length} vote rows; ${v.reads} reads, ${v.readFailed} failed; max ${Math.round(v.maxMs)} ms; ${v.errors.join('; ')}`);
  }
  const sent = votings.reduce((n, v) => n + v.sent + v.reads, 0);
  const failed = votings.reduce((n, v) => n + v.failed + v.readFailed, 0);
  printFigures(t, 'rolling', {
    sent,
    failed,
    wrongTenant: votings.reduce((n, v) => n + v.wrong, 0),
    acked: votings.reduce((n, v) => n + v.acked.size, 0),
    lost,
    duplicated,
    reloadMs,
    migrateMs,
    maxLatencyMs: Math.max(...votings.map((v) => v.maxMs)),
    retried,
  });

  for (const v of votings) t.ok(v.acked.size > 50, `${v.tenant}: votes were acknowledged during the operations (${v.acked.size})`);
  t.equal(failed, 0, `no request failed: ${votings.flatMap((v) => v.errors).join('; ')}`);
  t.equal(lost, 0, 'no acknowledged vote is missing');
  t.equal(duplicated, 0, 'no vote was recorded twice');
  t.equal(ghosts, 0, 'no vote row without a request behind it');
  t.equal(counterDrift, 0, 'every choice counter equals its vote rows');
  for (const tenant of TENANTS) t.equal(restartsAfter[tenant], restartsBefore[tenant]! + 1, `${tenant}: restarted once, by the reload`);
});
