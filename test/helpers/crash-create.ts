/**
 * `tenant create` SIGKILLed just before each step of one half of its step list (the
 * test-only hook SILO_TEST_CRASH_AT; the names come from the list, so a new step is
 * covered too), then run again: it completes without waiting for the dead command's
 * lock, and the stack stays consistent. Two files run one half each, in parallel, so
 * each stays well under tap's per-file timeout.
 */
import type { Test } from 'tap';
import { startStack } from './stack.js';
import { inconsistencies, WAITED } from './consistency.js';
import { createSteps } from '../../src/tenant/create.js';
import { stepNames } from '../../src/common/steps.js';

export async function crashCreateHalf(t: Test, half: 0 | 1): Promise<void> {
  const stack = await startStack(t);
  const all = stepNames(createSteps);
  const middle = Math.ceil(all.length / 2);
  const steps = half === 0 ? all.slice(0, middle) : all.slice(middle);
  await t.test(`create killed before each of: ${steps.join(', ')}; then run again`, async (t) => {
    t.ok(all.length >= 8, `the create steps: ${all.join(', ')}`);
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
}
