/**
 * The job store on its own (no stack): a job's file is 0600 and follows its state and
 * steps; an Idempotency-Key with the same request is the same job, with another request a
 * conflict; a job left running by a process that died runs again in the next one.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { homePaths } from '../../src/common/paths.js';
import { runSteps } from '../../src/common/steps.js';
import { JobStore, type Job } from '../../src/control/jobs.js';

const home = mkdtempSync(join(tmpdir(), 'silo-jobs-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));
const dir = homePaths(home).controlJobs;
const onDisk = (id: string) => JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as Job;

// An operation as the tenant layer writes them: a list of named steps.
const steps = [{ name: 'one', run: () => undefined }, { name: 'two', run: () => undefined }];
const operation = async (job: Job) => {
  await runSteps('demo', steps, {});
  if (job.params.fail) throw new Error('it failed\nsecond line');
  return { ok: true };
};

t.test('a job runs, records its steps, ends done or failed, in a 0600 file', async (t) => {
  const store = new JobStore(home, operation);
  const { job } = store.submit('demo', { n: 1 }, { tenant: 'acme', token: 'tok_1' });
  t.equal(job.state, 'queued');
  await store.whenIdle();
  const done = onDisk(job.id);
  t.equal(done.state, 'done');
  t.same(done.steps, ['demo:one', 'demo:two']);
  t.same(done.result, { ok: true });
  t.equal(statSync(join(dir, `${job.id}.json`)).mode & 0o777, 0o600);
  t.equal(statSync(dir).mode & 0o777, 0o700);
  const { job: bad } = store.submit('demo', { fail: true }, {});
  await store.whenIdle();
  t.equal(onDisk(bad.id).state, 'failed');
  t.equal(onDisk(bad.id).error, 'it failed', 'one line');
});

t.test('Idempotency-Key: same request, same job; another request, a conflict', async (t) => {
  const store = new JobStore(home, operation);
  const a = store.submit('demo', { n: 2 }, { idempotencyKey: 'k-1' });
  const b = store.submit('demo', { n: 2 }, { idempotencyKey: 'k-1' });
  t.equal(b.job.id, a.job.id);
  t.equal(b.existing, true);
  t.throws(() => store.submit('demo', { n: 3 }, { idempotencyKey: 'k-1' }), { message: /was used for another request/ });
  await store.whenIdle();
  // A new process knows the key from the files.
  const again = new JobStore(home, operation);
  t.equal(again.submit('demo', { n: 2 }, { idempotencyKey: 'k-1' }).job.id, a.job.id);
  t.throws(() => again.submit('demo', { n: 4 }, { idempotencyKey: 'k-1' }), { message: /was used for another request/ });
});

t.test('a job a dead process left running runs again, whole, in the next one', async (t) => {
  let release!: () => void;
  const stuck = new Promise<void>((r) => (release = r));
  const first = new JobStore(home, async () => {
    await runSteps('demo', [steps[0]!], {});
    await stuck; // the process "dies" here: its store is dropped with the job running
  });
  const { job } = first.submit('demo', { n: 5 }, {});
  while (onDisk(job.id).steps.length === 0) await new Promise((r) => setTimeout(r, 10));
  t.equal(onDisk(job.id).state, 'running');
  const second = new JobStore(home, operation);
  const resumed = second.resume();
  t.same(resumed.map((j) => j.id), [job.id]);
  await second.whenIdle();
  const after = onDisk(job.id);
  t.equal(after.state, 'done');
  t.equal(after.attempts, 2);
  t.same(after.steps, ['demo:one', 'demo:two']);
  release();
  await first.whenIdle(); // the "dead" store lets go before the next test counts files
  t.ok(readdirSync(dir).every((f) => f.endsWith('.json')), 'no temporary file left');
});

t.test('finished jobs older than the keep time are deleted when a store opens; others stay', async (t) => {
  const store = new JobStore(home, operation);
  const { job } = store.submit('demo', { n: 6 }, { idempotencyKey: 'old-one' });
  await store.whenIdle();
  // Older than a keep time of 0 means finished before this millisecond: a store opened in
  // the millisecond the job finished rightly keeps it (a clean-clone run saw exactly that).
  const finishedAt = Date.parse(store.get(job.id)!.finishedAt!);
  while (Date.now() <= finishedAt) await new Promise((r) => setTimeout(r, 1));
  const before = readdirSync(dir).length;
  const later = new JobStore(home, operation, { keepFinishedMs: 0 });
  t.equal(later.get(job.id), undefined);
  t.equal(readdirSync(dir).filter((f) => f.startsWith('job_')).length, 0, `all ${before} finished jobs went`);
  t.equal(later.submit('demo', { n: 7 }, { idempotencyKey: 'old-one' }).existing, false, 'its key is free again');
  await later.whenIdle();
});
