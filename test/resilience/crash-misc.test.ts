/**
 * Crash injection, part 4: `tenant create` and `tenant remove` SIGKILLed at random
 * moments, and `migrate`, `reload` and `server add` at their crash points; each time the
 * same command is run again, completes without waiting for the dead command's lock, and
 * leaves the stack consistent (a removal with exactly one backup).
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { cliKilledAfter, finalBackups, inconsistencies, WAITED } from '../helpers/consistency.js';
import { startTestPostgres } from '../helpers/postgres.js';

t.setTimeout(175_000);

const stack = await startStack(t);
const gone: string[] = [];

t.test('create killed at random moments, then run again', async (t) => {
  for (let i = 0; i < 2; i++) {
    const name = `rnd-create-${i}`;
    const ms = 150 + Math.floor(Math.random() * 1500);
    const r = await cliKilledAfter(stack, ['tenant', 'create', name], ms);
    t.comment(`${name}: killed after ${ms} ms (${r.signal ?? `exit ${r.code}`})`);
    const again = await stack.cli(['tenant', 'create', name]);
    t.equal(again.code, 0, `${name}: the re-run completes (${again.stderr.trim()})`);
    t.notMatch(again.stderr, WAITED);
  }
  t.same(await inconsistencies(stack, gone), [], 'consistent');
});

t.test('remove killed at random moments, then run again', async (t) => {
  for (let i = 0; i < 2; i++) {
    const name = `rnd-remove-${i}`;
    t.equal((await stack.cli(['tenant', 'create', name])).code, 0);
    const ms = 150 + Math.floor(Math.random() * 1500);
    const r = await cliKilledAfter(stack, ['tenant', 'remove', name, '--yes'], ms);
    t.comment(`${name}: killed after ${ms} ms (${r.signal ?? `exit ${r.code}`})`);
    const again = await stack.cli(['tenant', 'remove', name, '--yes']);
    // Killed after it finished: the re-run finds no such tenant.
    if (r.signal) t.equal(again.code, 0, `${name}: the re-run completes (${again.stderr.trim()})`);
    else t.match(again.stderr, /no tenant named/);
    t.notMatch(again.stderr, WAITED);
    t.equal(finalBackups(stack, name).length, 1, `${name}: exactly one backup`);
    gone.push(name);
  }
  t.same(await inconsistencies(stack, gone), [], 'consistent');
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
  t.same(await inconsistencies(stack, gone), [], 'consistent');
});
