/**
 * Which Engine API errors silo's Swarm runtime makes its call again for
 * (src/runtime/swarm/transient.ts): the managers electing a leader, never a refusal.
 */
import t from 'tap';
import { isTransient, retryTransient } from '../../src/runtime/swarm/transient.js';

const apiError = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) server error - ${message}`), { statusCode });

t.test('an election is transient; a refusal is not', async (t) => {
  t.ok(isTransient(apiError(500, 'rpc error: code = DeadlineExceeded desc = context deadline exceeded')));
  t.ok(isTransient(apiError(503, 'rpc error: code = Unknown desc = The swarm does not have a leader. It\'s possible that too few managers are online.')));
  t.ok(isTransient(apiError(500, 'rpc error: code = Unknown desc = update out of sequence')));
  t.notOk(isTransient(apiError(409, 'rpc error: code = AlreadyExists desc = config silo-control-1 already exists')));
  t.notOk(isTransient(apiError(404, 'service silo-tenant-x not found')));
  t.notOk(isTransient(apiError(500, 'rpc error: code = InvalidArgument desc = invalid memory value')));
  t.notOk(isTransient(new Error('connect ENOENT /run/docker.sock')));
});

t.test('made again until it succeeds; a final error at once', async (t) => {
  let calls = 0;
  const v = await retryTransient(async () => {
    if (++calls < 3) throw apiError(500, 'context deadline exceeded');
    return 'done';
  });
  t.equal(v, 'done');
  t.equal(calls, 3, 'two transient errors, then the answer');
  calls = 0;
  await t.rejects(retryTransient(async () => {
    calls++;
    throw apiError(404, 'no such service');
  }), /no such service/);
  t.equal(calls, 1, 'a refusal is not asked again');
  calls = 0;
  await t.rejects(retryTransient(async () => {
    calls++;
    throw apiError(500, 'context deadline exceeded');
  }, 600), /deadline/, 'transient for longer than its time: the error');
  t.ok(calls >= 2 && calls <= 4, `asked ${calls} times within 600 ms`);
});
