/**
 * A write that outlives its request: the handler timeout answers 503, and the database
 * work behind it, stalled meanwhile (here on a lock; in production on a frozen network
 * path), must roll back when it resumes instead of committing a vote or a poll the client
 * was told had failed.
 */
import t from 'tap';
import postgres from 'postgres';
import { setTimeout as sleep } from 'node:timers/promises';
import { app } from '../../src/app/index.js';
import { buildWorker } from '../../src/worker/app.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { provisionTenant, tableCounts } from './tenant-db.js';

t.setTimeout(60_000);

const pg = await startTestPostgres(t);
const tenant = await provisionTenant(t, pg, 'acme');
const fastify = buildWorker(tenant.config({ REQUEST_TIMEOUT_MS: '800', DB_STATEMENT_TIMEOUT_MS: '20000' }), { app });
t.teardown(() => fastify.close());
const headers = { host: tenant.host };

const made = await fastify.inject({ method: 'POST', url: '/api/polls', headers, payload: { question: 'Late?', choices: ['yes', 'no'] } });
const poll = made.json() as { id: number; choices: { id: number }[] };
const locker = postgres(pg.adminUrl, { database: 'acme', max: 1, onnotice: () => {} });
t.teardown(() => locker.end({ timeout: 1 }));

async function whileLocked(table: string, send: () => Promise<{ statusCode: number }>): Promise<number> {
  await locker.unsafe('begin');
  await locker.unsafe(`lock table ${table} in access exclusive mode`);
  // The handler timeout answers while the request's statement still waits on the lock.
  const { statusCode } = await send();
  await locker.unsafe('rollback');
  // The stalled transaction runs to its end: no other session in acme is still at work.
  for (let i = 0; i < 200 && (await busySessions()) > 0; i++) await sleep(50);
  return statusCode;
}

async function busySessions(): Promise<number> {
  const [row] = await locker`select count(*)::int as n from pg_stat_activity where datname = 'acme' and pid <> pg_backend_pid() and state in ('active', 'idle in transaction')`;
  return (row as { n: number }).n;
}

t.test('a vote answered 503 by the timeout is not counted when its transaction resumes', async (t) => {
  const before = await tableCounts(tenant.inspect);
  const status = await whileLocked('votes', () =>
    fastify.inject({ method: 'POST', url: `/api/polls/${poll.id}/votes`, headers, payload: { choiceId: poll.choices[0]!.id, voter: 'late' } }),
  );
  t.equal(status, 503);
  t.same(await tableCounts(tenant.inspect), before, 'no vote row, no counter change');
  const now = await fastify.inject({ method: 'POST', url: `/api/polls/${poll.id}/votes`, headers, payload: { choiceId: poll.choices[0]!.id, voter: 'on time' } });
  t.equal(now.statusCode, 201, 'the next vote is counted');
});

t.test('a poll answered 503 by the timeout is not created when its transaction resumes', async (t) => {
  const before = await tableCounts(tenant.inspect);
  const status = await whileLocked('choices', () =>
    fastify.inject({ method: 'POST', url: '/api/polls', headers, payload: { question: 'Too late?', choices: ['a', 'b'] } }),
  );
  t.equal(status, 503);
  t.same(await tableCounts(tenant.inspect), before, 'no poll, no choices');
});
