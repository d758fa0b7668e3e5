/**
 * The whole HTTP contract of the polls app, through `fastify.inject` on a worker built
 * exactly as in production, against a real PostgreSQL.
 */
import t from 'tap';
import { app } from '../../src/app/index.js';
import { buildWorker } from '../../src/worker/app.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { provisionTenant, tableCounts } from '../worker/tenant-db.js';
import { pollsHttpSuite } from './http-suite.js';
import { injectClient } from './inject-client.js';

const pg = await startTestPostgres(t);
const tenant = await provisionTenant(t, pg, 'acme');
const fastify = buildWorker(tenant.config(), { app });
t.teardown(() => fastify.close());

await pollsHttpSuite(t, {
  client: injectClient(fastify, tenant.host),
  tenant: tenant.name,
  counts: () => tableCounts(tenant.inspect),
});

t.test('concurrent votes are all counted, each with its audit row', async (t) => {
  const made = await fastify.inject({
    method: 'POST',
    url: '/api/polls',
    headers: { host: tenant.host },
    payload: { question: 'Race?', choices: ['a', 'b'] },
  });
  const poll = made.json<{ id: number; choices: { id: number }[] }>();
  const choiceId = poll.choices[0]!.id;
  const results = await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      fastify.inject({
        method: 'POST',
        url: `/api/polls/${poll.id}/votes`,
        headers: { host: tenant.host },
        payload: { choiceId, voter: `voter ${i}` },
      }),
    ),
  );
  t.ok(results.every((r) => r.statusCode === 201), 'all 201');
  t.same(results.map((r) => r.json<{ votes: number }>().votes).sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1));
  const [row] = await tenant.inspect<{ counter: number; audit: number }[]>`
    select (select votes from choices where id = ${choiceId}) as counter,
           (select count(*)::int from votes where choice_id = ${choiceId}) as audit`;
  t.same(row, { counter: 25, audit: 25 });
});

t.test('the worker connects as the tenant role, under its application name', async (t) => {
  await fastify.inject({ method: 'GET', url: '/api/polls', headers: { host: tenant.host } });
  const rows = await tenant.inspect<{ usename: string; application_name: string }[]>`
    select usename, application_name from pg_stat_activity where datname = ${tenant.name} and usename = ${tenant.name}`;
  t.ok(rows.length >= 1 && rows.length <= 4, `pool within DB_POOL_MAX (${rows.length})`);
  t.ok(rows.every((r) => r.application_name === 'silo-acme'));
});
