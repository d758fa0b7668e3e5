/**
 * Crash injection, part 3: `silo up` on a stopped stack SIGKILLed just before each of its
 * steps, as one chain (each run is the re-run of the one killed before it); the last run
 * completes the stack, which is then consistent.
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { inconsistencies, WAITED } from '../helpers/consistency.js';
import { upSteps } from '../../src/stack/stack.js';
import { stepNames } from '../../src/common/steps.js';

t.setTimeout(175_000);

const stack = await startStack(t);
const gone: string[] = [];

t.test('up killed before each of its steps in turn on a stopped stack, then run again', async (t) => {
  // One chain: each run is the re-run of the one killed before it, and goes one step
  // further before it is killed in turn; the last run completes the stack.
  t.equal((await stack.cli(['down'])).code, 0);
  let killedAt = 0;
  for (const step of stepNames(upSteps)) {
    const r = await stack.cli(['up'], { SILO_TEST_CRASH_AT: `up:${step}` });
    t.notMatch(r.stderr, WAITED, `${step}: no wait for the dead command's lock`);
    if (r.code === -1) {
      killedAt++;
      continue;
    }
    // A step with nothing to do on this stack (no orphans, no backup schedule) is skipped
    // and that run completes: stop the stack again for the next step.
    t.equal(r.code, 0, `up:${step} had nothing to do and completed (${r.stderr.trim()})`);
    t.equal((await stack.cli(['down'])).code, 0);
  }
  t.ok(killedAt >= 6, `up was killed at ${killedAt} of its steps`);
  const again = await stack.cli(['up']);
  t.equal(again.code, 0, `the last run completes (${again.stderr.trim()})`);
  t.same(await inconsistencies(stack, gone), [], 'consistent');
});
