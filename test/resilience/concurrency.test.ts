/**
 * Pairs of state-changing commands at once, on the same tenant and on different ones.
 * Whatever order they end up in, each ends as it would alone (or with the one-line
 * error it would give after the other), and the stack is consistent: one PM2 app per
 * tenant, every route right, no staging folder or lock left.
 */
import t, { type Test } from 'tap';
import { startStack } from '../helpers/stack.js';
import { finalBackups, inconsistencies } from '../helpers/consistency.js';
import type { CliResult } from '../helpers/silo-home.js';

t.setTimeout(175_000);

const stack = await startStack(t);
const gone: string[] = [];
const both = (a: string[], b: string[]) => Promise.all([stack.cli(a), stack.cli(b)]);
const ok = (t: Test, r: CliResult, what: string) => t.equal(r.code, 0, `${what}: ${r.stderr.trim()}`);

t.test('the same tenant created twice at once: one tenant, one worker', async (t) => {
  const [a, b] = await both(['tenant', 'create', 'same'], ['tenant', 'create', 'same']);
  ok(t, a, 'first');
  ok(t, b, 'second');
  t.same([a.stdout, b.stdout].map((o) => /^created/.test(o)).sort(), [false, true], 'one created it, the other found it');
  t.same(await inconsistencies(stack), []);
});

t.test('two different tenants created at once', async (t) => {
  const [a, b] = await both(['tenant', 'create', 'left'], ['tenant', 'create', 'right']);
  ok(t, a, 'left');
  ok(t, b, 'right');
  t.same(await inconsistencies(stack), []);
});

t.test('the same tenant removed twice at once: one removal, one backup', async (t) => {
  const [a, b] = await both(['tenant', 'remove', 'same', '--yes'], ['tenant', 'remove', 'same', '--yes']);
  const codes = [a.code, b.code].sort();
  t.same(codes, [0, 1], 'one removes it, the other finds it gone');
  t.match([a.stderr, b.stderr].join(''), /no tenant named "same"/);
  t.equal(finalBackups(stack, 'same').length, 1, 'one backup');
  gone.push('same');
  t.same(await inconsistencies(stack, gone), []);
});

t.test('create one tenant while removing another', async (t) => {
  const [a, b] = await both(['tenant', 'create', 'newcomer'], ['tenant', 'remove', 'left', '--yes']);
  ok(t, a, 'create');
  ok(t, b, 'remove');
  gone.push('left');
  t.same(await inconsistencies(stack, gone), []);
});

t.test('create and remove of the same tenant at once end in one of the two states', async (t) => {
  const [a, b] = await both(['tenant', 'create', 'flip'], ['tenant', 'remove', 'flip', '--yes']);
  ok(t, a, 'create');
  if (b.code === 0) gone.push('flip'); // remove ran second
  else t.match(b.stderr, /no tenant named "flip"/, 'remove ran first and found nothing');
  t.same(await inconsistencies(stack, gone), []);
});

t.test('reload, up and migrate while a tenant is created', async (t) => {
  const [r, c] = await both(['reload'], ['tenant', 'create', 'during-reload']);
  ok(t, r, 'reload');
  ok(t, c, 'create');
  const [u, c2] = await both(['up'], ['tenant', 'create', 'during-up']);
  ok(t, u, 'up');
  ok(t, c2, 'create');
  const [m, c3] = await both(['migrate'], ['tenant', 'create', 'during-migrate']);
  ok(t, m, 'migrate');
  ok(t, c3, 'create');
  t.same(await inconsistencies(stack, gone), []);
});
