/**
 * Scenario: day-2 operations under load. While every tenant takes votes and reads through
 * the proxy, one tenant is moved to another PostgreSQL server, then one is restored from
 * a backup. The other tenants fail nothing; the operated tenant answers only silo's
 * suspended page (503 + Retry-After) while it is unavailable, and that window is
 * measured from the clients' side. Every vote acknowledged before and during the move is
 * in the tenant's database on its new server exactly once; for the restore, every vote
 * acknowledged before the backup is there exactly once (later ones are what a restore
 * undoes).
 */
import t from 'tap';
import { Agent } from 'node:http';
import { startStack } from '../helpers/stack.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { loops, printFigures, send, serverUrl, sleep, withTenantDb } from '../helpers/resilience.js';

t.setTimeout(170_000);

const stack = await startStack(t);
const pg2 = await startTestPostgres(t);
const TENANTS = ['client1', 'client2'];
const add = await stack.cli(['server', 'add', 'db2', pg2.adminUrl]);
if (add.code !== 0) throw new Error(add.stderr);

interface Voting {
  tenant: string;
  pollId: number;
  choiceIds: number[];
  acked: Map<string, { choiceId: number; at: number }>;
  unacked: Set<string>;
  sent: number;
  /** answers other than 2xx that are not silo's suspended page */
  failed: number;
  /** silo's suspended page (503 + Retry-After) */
  suspended: number;
  firstSuspended?: number;
  lastSuspended?: number;
  retryAfterMissing: number;
  errors: string[];
}

async function voting(tenant: string): Promise<Voting> {
  const polls = JSON.parse((await stack.http(`${tenant}.localhost`, '/api/polls')).text) as { id: number; choices: { id: number }[] }[];
  return { tenant, pollId: polls[0]!.id, choiceIds: polls[0]!.choices.map((c) => c.id), acked: new Map(), unacked: new Set(), sent: 0, failed: 0, suspended: 0, retryAfterMissing: 0, errors: [] };
}

function load(v: Voting, tag: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 3 });
  const host = `${v.tenant}.localhost`;
  const counters = { retried: 0 };
  let seq = 0;
  const l = loops(3, async (i) => {
    const isRead = i === 2;
    const voter = `${tag}-${v.tenant}-${i}-${seq++}`;
    const choiceId = v.choiceIds[seq % v.choiceIds.length]!;
    const a = isRead
      ? await send(stack.httpPort, host, '/api/polls', { agent, timeoutMs: 20_000 }, counters)
      : await send(stack.httpPort, host, `/api/polls/${v.pollId}/votes`, { agent, method: 'POST', body: JSON.stringify({ choiceId, voter }), timeoutMs: 20_000 });
    v.sent++;
    const now = performance.now();
    if (a.status === 200 || a.status === 201) {
      if (!isRead) v.acked.set(voter, { choiceId, at: now });
      return;
    }
    if (!isRead) v.unacked.add(voter);
    if (a.status === 503 && a.text.includes('"suspended":true')) {
      v.suspended++;
      v.firstSuspended ??= now;
      v.lastSuspended = now;
      if (!a.headers['retry-after']) v.retryAfterMissing++;
      await sleep(20); // a client honouring Retry-After would wait longer; this measures the window finely
      return;
    }
    v.failed++;
    if (v.errors.length < 10) v.errors.push(`${isRead ? 'GET' : 'POST'} ${a.status || a.error}: ${a.text.slice(0, 100)}`);
  });
  return {
    async stop() {
      await l.stop();
      agent.destroy();
      return counters.retried;
    },
  };
}

async function votesIn(url: string, tenant: string, tag: string) {
  return withTenantDb(url, tenant, (sql) => sql<{ voter: string; choice_id: string; n: number }[]>`
    select voter, min(choice_id) as choice_id, count(*)::int as n from votes where voter like ${tag + '-%'} group by voter`);
}

function check(v: Voting, rows: { voter: string; choice_id: string; n: number }[], mustHave: (at: number) => boolean) {
  const inDb = new Map(rows.map((r) => [r.voter, r]));
  let lost = 0;
  for (const [voter, { choiceId, at }] of v.acked) {
    if (!mustHave(at)) continue;
    const row = inDb.get(voter);
    if (!row || Number(row.choice_id) !== choiceId) lost++;
  }
  return { lost, duplicated: rows.filter((r) => r.n > 1).length, ghosts: rows.filter((r) => !v.acked.has(r.voter) && !v.unacked.has(r.voter)).length };
}

await t.test('move client1 to another server while every tenant votes and reads', async (t) => {
  const vs = await Promise.all(TENANTS.map(voting));
  const running = vs.map((v) => load(v, 'mv'));
  await sleep(1500);
  const m0 = performance.now();
  const moved = await stack.cli(['tenant', 'move', 'client1', '--to', 'db2', '--json']);
  const moveMs = performance.now() - m0;
  t.equal(moved.code, 0, moved.stderr);
  await sleep(1500);
  const retried = (await Promise.all(running.map((r) => r.stop()))).reduce((a, b) => a + b, 0);
  const result = JSON.parse(moved.stdout);

  const [mover, other] = vs as [Voting, Voting];
  const moverCheck = check(mover, await votesIn(pg2.adminUrl, 'client1', 'mv'), () => true);
  const otherCheck = check(other, await votesIn(serverUrl(stack), 'client2', 'mv'), () => true);
  const windowMs = mover.firstSuspended === undefined ? 0 : mover.lastSuspended! - mover.firstSuspended;
  for (const v of vs) t.comment(`${v.tenant}: ${v.sent} requests, ${v.acked.size} votes acknowledged, ${v.suspended} suspended answers, ${v.failed} failed; ${v.errors.join('; ')}`);
  printFigures(t, 'move-under-load', {
    sent: vs.reduce((n, v) => n + v.sent, 0),
    failed: other.failed,
    wrongTenant: 0,
    movedTenantFailed: mover.failed,
    movedTenantSuspendedAnswers: mover.suspended,
    unavailableWindowMs: windowMs,
    silosSuspendedMs: result.suspendedMs,
    moveTotalMs: moveMs,
    ackedMoved: mover.acked.size,
    lost: moverCheck.lost + otherCheck.lost,
    duplicated: moverCheck.duplicated + otherCheck.duplicated,
    retried,
  });
  t.equal(other.failed + other.suspended, 0, `client2 failed nothing: ${other.errors.join('; ')}`);
  t.ok(mover.acked.size > 20 && other.acked.size > 20, 'votes were acknowledged on both tenants');
  t.equal(mover.retryAfterMissing, 0, 'every suspended answer carried Retry-After');
  t.equal(moverCheck.lost + otherCheck.lost, 0, 'every acknowledged vote is in the database, on its new server for client1');
  t.equal(moverCheck.duplicated + otherCheck.duplicated, 0, 'none twice');
  t.equal(moverCheck.ghosts + otherCheck.ghosts, 0, 'no vote without a request behind it');
  t.comment(`client1: ${mover.failed} requests failed other than the suspended page (in flight when its source sessions closed; unacknowledged)`);
});

await t.test('restore client2 from a backup taken under load, while every tenant votes and reads', async (t) => {
  const vs = await Promise.all(TENANTS.map(voting));
  const running = vs.map((v) => load(v, 'rs'));
  await sleep(1000);
  const b0 = performance.now();
  const backup = await stack.cli(['tenant', 'backup', 'client2']);
  t.equal(backup.code, 0, backup.stderr);
  await sleep(1000);
  const r0 = performance.now();
  const restored = await stack.cli(['tenant', 'restore', 'client2', '--latest', '--yes', '--json']);
  const restoreMs = performance.now() - r0;
  t.equal(restored.code, 0, restored.stderr);
  await sleep(1500);
  const retried = (await Promise.all(running.map((r) => r.stop()))).reduce((a, b) => a + b, 0);
  const result = JSON.parse(restored.stdout);

  const [other, restoredTenant] = vs as [Voting, Voting];
  // Votes acknowledged before `tenant backup` started are in the dump, hence after the restore.
  const restoredCheck = check(restoredTenant, await votesIn(serverUrl(stack), 'client2', 'rs'), (at) => at < b0);
  const otherCheck = check(other, await votesIn(pg2.adminUrl, 'client1', 'rs'), () => true);
  const windowMs = restoredTenant.firstSuspended === undefined ? 0 : restoredTenant.lastSuspended! - restoredTenant.firstSuspended;
  for (const v of vs) t.comment(`${v.tenant}: ${v.sent} requests, ${v.acked.size} votes acknowledged, ${v.suspended} suspended answers, ${v.failed} failed; ${v.errors.join('; ')}`);
  printFigures(t, 'restore-under-load', {
    sent: vs.reduce((n, v) => n + v.sent, 0),
    failed: other.failed,
    wrongTenant: 0,
    restoredTenantFailed: restoredTenant.failed,
    restoredTenantSuspendedAnswers: restoredTenant.suspended,
    unavailableWindowMs: windowMs,
    silosSuspendedMs: result.suspendedMs,
    restoreTotalMs: restoreMs,
    lostBeforeBackup: restoredCheck.lost,
    lostOther: otherCheck.lost,
    duplicated: restoredCheck.duplicated + otherCheck.duplicated,
    retried,
  });
  t.equal(other.failed + other.suspended, 0, `client1 failed nothing: ${other.errors.join('; ')}`);
  t.equal(restoredTenant.retryAfterMissing, 0);
  t.equal(restoredCheck.lost + otherCheck.lost, 0, 'every vote acknowledged before the backup is there; client1 lost nothing');
  t.equal(restoredCheck.duplicated + otherCheck.duplicated, 0, 'none twice');
});
