/**
 * Crash injection, part 2: `tenant remove` SIGKILLed just before each of its steps, then
 * run again. It completes without waiting for the dead command's lock, a removal still
 * makes exactly one backup, and the stack stays consistent.
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { finalBackups, inconsistencies, WAITED } from '../helpers/consistency.js';
import { removeSteps } from '../../src/tenant/remove.js';
import { stepNames } from '../../src/common/steps.js';

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
