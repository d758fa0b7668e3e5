/**
 * The compiled worker when a transaction's database connection dies under it (the server
 * restarts, an admin terminates the backend, idle_in_transaction_session_timeout fires).
 * postgres.js 3.4.9 then wrote the ROLLBACK on the closed connection from a setImmediate
 * and threw an uncaught TypeError (porsager/postgres#1154, #1208; 4.x no longer does): the
 * worker must answer that request 503, keep running (same process) and serve the next
 * ones (on a fresh pool, if the driver threw).
 */
import t from 'tap';
import postgres from 'postgres';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/common/ports.js';
import { isDriverWriteAfterClose } from '../../src/worker/db.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { provisionTenant } from './tenant-db.js';
import { httpClient, staleBuild, startWorker } from './worker-process.js';

t.setTimeout(60_000);

const stale = staleBuild();
if (stale) {
  t.fail(stale);
  process.exit(1);
}

t.test('isDriverWriteAfterClose recognises that one defect only', async (t) => {
  const crash = new TypeError("Cannot read properties of null (reading 'write')");
  crash.stack = `TypeError: ${crash.message}\n    at Immediate.nextWrite (file:///app/node_modules/postgres/src/connection.js:255:22)\n    at process.processImmediate (node:internal/timers:483:21)`;
  t.ok(isDriverWriteAfterClose(crash));
  const cjs = new TypeError(crash.message);
  cjs.stack = `TypeError: ${crash.message}\n    at Immediate.nextWrite (/app/node_modules/postgres/cjs/src/connection.js:255:22)`;
  t.ok(isDriverWriteAfterClose(cjs));
  const elsewhere = new TypeError(crash.message);
  elsewhere.stack = `TypeError: ${crash.message}\n    at nextWrite (file:///app/src/mine.js:1:1)`;
  t.notOk(isDriverWriteAfterClose(elsewhere), 'same message from our own code');
  const other = new TypeError("Cannot read properties of null (reading 'end')");
  other.stack = crash.stack.replace("'write'", "'end'");
  t.notOk(isDriverWriteAfterClose(other), 'another message');
  t.notOk(isDriverWriteAfterClose(new Error(crash.message)), 'not a TypeError');
});

t.test('a transaction whose backend is terminated: 503, the worker lives on and serves again', async (t) => {
  const pg = await startTestPostgres(t);
  const tenant = await provisionTenant(t, pg, 'acme');
  const worker = await startWorker(t, { ...tenant.env, PORT: String(await freePort()), LOG_LEVEL: 'warn' });
  const client = httpClient(worker.port, tenant.host);
  const made = await client({ method: 'POST', url: '/api/polls', payload: { question: 'Still there?', choices: ['yes', 'no'] } });
  t.equal(made.statusCode, 201, made.statusCode === 201 ? 'poll created' : worker.stdout().slice(-1500));
  const poll = JSON.parse(made.body) as { id: number; choices: { id: number }[] };

  // Hold a lock so that each vote's transaction waits inside the database, then cut the
  // worker's backends while they wait.
  const locker = postgres(pg.adminUrl, { database: 'acme', max: 1, onnotice: () => {} });
  t.teardown(() => locker.end({ timeout: 1 }));
  for (let round = 0; round < 3; round++) {
    await locker.unsafe('begin');
    await locker.unsafe('lock table choices in access exclusive mode');
    const votes = [0, 1].map((i) => client({ method: 'POST', url: `/api/polls/${poll.id}/votes`, payload: { choiceId: poll.choices[0]!.id, voter: `r${round}-${i}` } }));
    await sleep(300);
    await tenant.inspect`select pg_terminate_backend(pid) from pg_stat_activity where datname = 'acme' and application_name = 'silo-acme'`;
    const answers = await Promise.all(votes);
    await locker.unsafe('rollback');
    t.same(answers.map((a) => a.statusCode), [503, 503], `round ${round}: the interrupted votes answer 503`);
    await sleep(100);
    t.equal(worker.child.exitCode, null, `round ${round}: the worker is still running`);
    const again = await client({ method: 'POST', url: `/api/polls/${poll.id}/votes`, payload: { choiceId: poll.choices[0]!.id, voter: `after-${round}` } });
    t.equal(again.statusCode, 201, `round ${round}: the next vote is counted`);
    const list = await client({ method: 'GET', url: '/api/polls' });
    t.equal(list.statusCode, 200, `round ${round}: reads work`);
  }
  // postgres.js 4 no longer throws there, so the pool is renewed only on a 3.x driver.
  t.notMatch(worker.stdout(), /closing after an unexpected error/);
});
