/**
 * `control` killed mid-job: a tenant creation asked through the API holds at its `schema`
 * step (the test-only hold point, src/common/crash-point.ts: no sleep decides anything),
 * the test SIGKILLs the control process by its pid, PM2 starts it again, it runs the
 * unfinished job again from its file, and the job ends done with the tenant serving.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { controlClient, makeToken } from '../helpers/control.js';

const dir = mkdtempSync(join(tmpdir(), 'silo-hold-'));
const hold = join(dir, 'hold');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const stack = await startStack(t, {
  env: { SILO_CONTROL: 'on', SILO_HIBERNATE_AFTER: '0', SILO_TEST_CONTROL_HOLD_AT: 'create:schema', SILO_TEST_CONTROL_HOLD_FILE: hold },
});
const api = await controlClient(stack);
const write = await makeToken(stack, '--scope', 'write');

/** The pid the process held at the point wrote, once it is there (and not `not`). */
async function heldBy(not?: number): Promise<number> {
  for (let i = 0; i < 3000; i++) {
    const pid = existsSync(hold) ? Number(readFileSync(hold, 'utf8')) : NaN;
    if (pid > 0 && pid !== not) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the control process never reached create:schema');
}

const controlPid = async () => JSON.parse((await stack.cli(['status', '--json'])).stdout).control.pid as number;

t.test('control SIGKILLed mid-create: PM2 restarts it and the job completes', async (t) => {
  const r = await api.call('POST', '/v1/tenants', { token: write, body: { name: 'survivor' } });
  t.equal(r.status, 202, r.text);
  const id = r.json().job.id as string;

  const first = await heldBy();
  t.equal(first, await controlPid(), 'the control app holds at create:schema');
  const mid = (await api.call('GET', `/v1/jobs/${id}`, { token: write })).json();
  t.equal(mid.state, 'running');
  t.ok(mid.steps.includes('create:register'), `steps so far: ${mid.steps.join(', ')}`);
  process.kill(first, 'SIGKILL');

  // PM2 starts it again; it runs the job again and reaches the same point.
  const second = await heldBy(first);
  t.not(second, first);
  t.equal(second, await controlPid(), 'the restarted control app resumed the job');
  rmSync(hold); // let it go on

  const done = await api.waitJob(id, write);
  t.equal(done.state, 'done', done.error ?? 'the job is done');
  t.equal(done.attempts, 2);
  t.ok(done.steps.includes('create:schema') && done.steps.includes('create:route'), done.steps.join(', '));
  const answer = await stack.http('survivor.localhost', '/api/tenant');
  t.equal(answer.status, 200);
  t.same(answer.json(), { tenant: 'survivor' });
  const repair = await stack.cli(['tenant', 'repair', 'survivor']);
  t.match(repair.stdout, /nothing to fix/, 'the resumed creation left nothing half-done');
});
