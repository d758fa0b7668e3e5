import t from 'tap';
import { within } from '../../src/common/within.js';

t.test('within: the answer when it comes in time', async (t) => {
  t.equal(await within(60_000, Promise.resolve(7)), 7);
  t.equal(await within(60_000, new Promise((resolve) => setImmediate(() => resolve('late but in time')))), 'late but in time');
});

t.test('within: undefined when no answer comes', async (t) => {
  t.equal(await within(1, new Promise<number>(() => {})), undefined);
});

t.test('within: a rejection in time stays a rejection; one after the deadline is handled', async (t) => {
  await t.rejects(within(60_000, Promise.reject(new Error('refused'))), /refused/);
  let reject!: (err: Error) => void;
  const p = new Promise<number>((_, r) => (reject = r));
  t.equal(await within(1, p), undefined);
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  reject(new Error('too late'));
  await new Promise((resolve) => setImmediate(resolve));
  t.same(unhandled, []);
});

t.test('within: leaves no timer behind to hold the process open', async (t) => {
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await within(3_600_000, Promise.resolve(1));
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before);
});
