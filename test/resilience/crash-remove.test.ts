/**
 * Crash injection, part 2: `tenant remove` SIGKILLed just before each of its steps and
 * at random moments; each time the same command is run again. It completes without
 * waiting for the dead command's lock, a removal still makes exactly one backup, and the
 * stack stays consistent.
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { cliKilledAfter, finalBackups, inconsistencies, WAITED } from '../helpers/consistency.js';
import { removeSteps } from '../../src/tenant/remove.js';
import { stepNames } from '../../src/tenant/steps.js';

t.setTimeout(175_000);

const stack = await startStack(t);
const gone: string[] = [];

t.test('remove killed before each step, then run again: one backup each', async (t) => {
  const steps = stepNames(removeSteps);
  const names = steps.map((s) => `rm-${s}`.slice(0, 32).replace(/-$/, ''));
  for (const name of names) t.equal((await stack.cli(['tenant', 'create', name])).code, 0);
  for (const [i, step] of steps.entries()) {
    const name = names[i]!;
    const killed = await stack.cli(['tenant', 'remove', name, '--yes'], { SILO_TEST_CRASH_AT: `remove:${step}` });
    t.equal(killed.code, -1, `killed before ${step}`);
    const again = await stack.cli(['tenant', 'remove', name, '--yes']);
    t.equal(again.code, 0, `${step}: the re-run completes (${again.stderr.trim()})`);
    t.notMatch(again.stderr, WAITED, `${step}: no wait for the dead command's lock`);
    t.equal(finalBackups(stack, name).length, 1, `${step}: exactly one backup`);
    gone.push(name);
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
