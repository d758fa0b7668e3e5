/**
 * The step runner: order, skipping what is done, and the test-only crash hook that
 * SIGKILLs the process just before a named step acts.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { runSteps, stepFailure, stepNames, type Step } from '../../src/common/steps.js';
import { root } from '../helpers/silo-home.js';

t.test('steps run in order; a step whose check says done is skipped', async (t) => {
  const ran: string[] = [];
  const steps: Step<{ have: Set<string> }>[] = ['a', 'b', 'c'].map((name) => ({
    name,
    done: (c) => c.have.has(name),
    run: (c) => {
      ran.push(name);
      c.have.add(name);
    },
  }));
  const first = await runSteps('op', steps, { have: new Set(['b']) });
  t.same(ran, ['a', 'c']);
  t.same(first, [
    { step: 'a', acted: true },
    { step: 'b', acted: false },
    { step: 'c', acted: true },
  ]);
  t.same(stepNames(steps), ['a', 'b', 'c']);
});

t.test('a failing step stops the list with its own error', async (t) => {
  const ran: string[] = [];
  const steps: Step<null>[] = [
    { name: 'one', run: () => void ran.push('one') },
    { name: 'two', run: () => Promise.reject(new Error('two broke')) },
    { name: 'three', run: () => void ran.push('three') },
  ];
  await t.rejects(runSteps('op', steps, null), /two broke/);
  t.same(ran, ['one']);
});

t.test('the error says where its list stopped: the step, and those before it (the outer list when nested)', async (t) => {
  const inner: Step<null>[] = [
    { name: 'check', done: () => true, run: () => undefined },
    { name: 'dump', run: () => Promise.reject(new Error('disk full')) },
  ];
  const outer: Step<null>[] = [
    { name: 'mark', run: () => undefined },
    { name: 'backup', run: () => runSteps('backup', inner, null) },
  ];
  const err = await runSteps('remove', outer, null).catch((e: unknown) => e);
  t.same(stepFailure(err), { operation: 'remove', step: 'backup', ran: [{ step: 'mark', acted: true }] });
  const throwingCheck: Step<null>[] = [{ name: 'role', done: () => Promise.reject(new Error('no server')), run: () => undefined }];
  t.same(stepFailure(await runSteps('repair', throwingCheck, null).catch((e: unknown) => e)), { operation: 'repair', step: 'role', ran: [] }, 'a check that throws is the step that stopped it');
});

t.test('SILO_TEST_CRASH_AT kills the process just before the named step acts', async (t) => {
  const stepsJs = join(root, 'dist', 'common', 'steps.js');
  const script = `
    const { runSteps } = await import(${JSON.stringify(stepsJs)});
    const step = (name) => ({ name, run: () => process.stdout.write(name + ' ') });
    await runSteps('demo', [step('one'), step('two'), step('three')], {});
    process.stdout.write('finished');`;
  const run = async (at: string | undefined) => {
    const env = { ...process.env, SILO_TEST_CRASH_AT: at };
    if (at === undefined) delete env.SILO_TEST_CRASH_AT;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const [code, signal] = await once(child, 'exit');
    return { code, signal, out };
  };
  t.same(await run('demo:two'), { code: null, signal: 'SIGKILL', out: 'one ' });
  t.same(await run('three'), { code: null, signal: 'SIGKILL', out: 'one two ' });
  t.same(await run('other:two'), { code: 0, signal: null, out: 'one two three finished' }, 'another operation is not hit');
  t.same(await run(undefined), { code: 0, signal: null, out: 'one two three finished' });
});
