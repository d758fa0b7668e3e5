/**
 * Crash injection for `silo deploy`: SIGKILLed just before each of its per-tenant steps
 * (the test-only hook SILO_TEST_CRASH_AT=deploy:<step>) and at random moments, then run
 * again. The re-run completes without waiting for the dead command's lock, the tenant
 * ends on the release and answers with it, the other tenant is untouched, and the stack
 * stays consistent (registry, databases, roles, one PM2 app per tenant, proxy routes).
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { cliKilledAfter, inconsistencies, WAITED } from '../helpers/consistency.js';
import { pollsApp } from '../helpers/polls-app.js';
import { deploySteps } from '../../src/tenant/deploy.js';
import { stepNames } from '../../src/common/steps.js';

t.setTimeout(175_000);

const v1 = pollsApp(t, { version: '1.0.0' });
const stack = await startStack(t, { env: { SILO_APP: v1 } });
const steps = stepNames(deploySteps);
const migration = { '0002_poll_notes.sql': 'alter table polls add column note text;' };
const version = async (tenant: string) => (await stack.http(`${tenant}.localhost`, '/api/release')).json().version as string;
const releaseOf = (tenant: string) => JSON.parse(readFileSync(join(stack.home, 'registry.json'), 'utf8')).tenants[tenant].release;

t.test('deploy killed before each step, then run again', async (t) => {
  t.same(steps, ['check-schema', 'migrate', 'switch-worker', 'record']);
  let n = 0;
  for (const step of steps) {
    // A new release each time, so no step finds its work already done.
    const app = pollsApp(t, { version: `1.1.${n++}`, migrations: migration });
    const killed = await stack.cli(['deploy', app, '--tenant', 'client1'], { SILO_TEST_CRASH_AT: `deploy:${step}` });
    t.equal(killed.code, -1, `killed before ${step}`);
    const again = await stack.cli(['deploy', app, '--tenant', 'client1', '--json']);
    t.equal(again.code, 0, `${step}: the re-run completes (${again.stderr.trim()})`);
    t.notMatch(again.stderr, WAITED, `${step}: no wait for the dead command's lock`);
    const out = JSON.parse(again.stdout);
    t.equal(releaseOf('client1').id, out.release.id, `${step}: the registry records the release`);
    t.equal(await version('client1'), `1.1.${n - 1}`, `${step}: client1 answers with it`);
  }
  t.equal(await version('client2'), '1.0.0', 'client2 untouched');
  t.same(await inconsistencies(stack), [], 'consistent');
});

t.test('deploy --all killed at random moments, then run again', async (t) => {
  for (let i = 0; i < 2; i++) {
    const app = pollsApp(t, { version: `1.2.${i}`, migrations: migration });
    const ms = 300 + Math.floor(Math.random() * 2500);
    const r = await cliKilledAfter(stack, ['deploy', app, '--all'], ms);
    t.comment(`killed after ${ms} ms (${r.signal ?? `exit ${r.code}`})`);
    const again = await stack.cli(['deploy', app, '--all']);
    t.equal(again.code, 0, `the re-run completes (${again.stderr.trim()})`);
    t.notMatch(again.stderr, WAITED);
    t.same([await version('client1'), await version('client2')], [`1.2.${i}`, `1.2.${i}`]);
  }
  t.same(readdirSync(join(stack.home, 'releases')).filter((f) => f.startsWith('.tmp-')), [], 'no half-copied snapshot left');
  t.same(await inconsistencies(stack), [], 'consistent');
});
