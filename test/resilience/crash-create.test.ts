/**
 * Crash injection, part 1: `tenant create` SIGKILLed just before each of its steps (the
 * test-only hook SILO_TEST_CRASH_AT) and at random moments, `migrate`, `reload` and
 * `server add` at theirs; each time the same command is run again. It completes without
 * waiting for the dead command's lock, and the stack stays consistent: registry,
 * databases, roles, password files, one PM2 app per tenant, proxy routes.
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { cliKilledAfter, inconsistencies, WAITED } from '../helpers/consistency.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { createSteps } from '../../src/tenant/create.js';
import { stepNames } from '../../src/tenant/steps.js';

t.setTimeout(175_000);

const stack = await startStack(t);
const steps = stepNames(createSteps);

t.test('create killed before each step, then run again', async (t) => {
  t.ok(steps.length >= 8, `the create steps: ${steps.join(', ')}`);
  for (const step of steps) {
    const name = `at-${step}`.slice(0, 32).replace(/-$/, '');
    const killed = await stack.cli(['tenant', 'create', name], { SILO_TEST_CRASH_AT: `create:${step}` });
    t.equal(killed.code, -1, `killed before ${step}`);
    const again = await stack.cli(['tenant', 'create', name]);
    t.equal(again.code, 0, `${step}: the re-run completes (${again.stderr.trim()})`);
    t.notMatch(again.stderr, WAITED, `${step}: no wait for the dead command's lock`);
    t.match(again.stdout, /live at http:/, `${step}: live`);
  }
  t.same(await inconsistencies(stack), [], 'consistent');
});

t.test('create killed at random moments, then run again', async (t) => {
  for (let i = 0; i < 3; i++) {
    const name = `rnd-create-${i}`;
    const ms = 150 + Math.floor(Math.random() * 1500);
    const r = await cliKilledAfter(stack, ['tenant', 'create', name], ms);
    t.comment(`${name}: killed after ${ms} ms (${r.signal ?? `exit ${r.code}`})`);
    const again = await stack.cli(['tenant', 'create', name]);
    t.equal(again.code, 0, `${name}: the re-run completes (${again.stderr.trim()})`);
    t.notMatch(again.stderr, WAITED);
  }
  t.same(await inconsistencies(stack), [], 'consistent');
});

t.test('migrate, reload and server add killed at their steps, then run again', async (t) => {
  for (const step of ['migrate-tenant', 'record-versions']) {
    t.equal((await stack.cli(['migrate'], { SILO_TEST_CRASH_AT: `migrate:${step}` })).code, -1, `migrate killed at ${step}`);
    const again = await stack.cli(['migrate']);
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /tenants up to date, 0 failed/);
  }
  t.equal((await stack.cli(['reload', 'client1'], { SILO_TEST_CRASH_AT: 'reload:reload-worker' })).code, -1, 'reload killed');
  const reload = await stack.cli(['reload', 'client1']);
  t.equal(reload.code, 0, reload.stderr);
  t.notMatch(reload.stderr, WAITED);

  const other = await startTestPostgres(t); // a second server (one server takes one name)
  const url = other.adminUrl;
  t.equal((await stack.cli(['server', 'add', 'again', url], { SILO_TEST_CRASH_AT: 'server-add:register' })).code, -1, 'server add killed');
  const added = await stack.cli(['server', 'add', 'again', url]);
  t.equal(added.code, 0, added.stderr);
  const list = JSON.parse((await stack.cli(['server', 'list', '--json'])).stdout);
  t.same(list.map((s: { name: string }) => s.name).sort(), ['again', 'local']);
  t.same(await inconsistencies(stack), [], 'consistent');
});
