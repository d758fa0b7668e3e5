import t from 'tap';
import { createServer } from 'node:net';
import { allocatePort, freePort, nextFreeSlot } from '../../src/common/ports.js';

t.test('takes the lowest slot no tenant holds', async (t) => {
  t.equal(nextFreeSlot([], 4100), 4100);
  t.equal(nextFreeSlot([4100, 4101, 4103], 4100), 4102);
  t.equal(nextFreeSlot([4101], 4100), 4100);
  t.throws(() => nextFreeSlot([5, 6], 5, 6), /no free worker port/);
});

t.test('skips a port something else is listening on', async (t) => {
  const base = await freePort();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(base, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => blocker.close(r)));
  const port = await allocatePort([], base, base + 50);
  t.not(port, base);
  t.ok(port > base);
});
