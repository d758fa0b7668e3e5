import t from 'tap';
import { readFileSync } from 'node:fs';
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

const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
const rangeTooLow = low - 20000 < 2000 && `the ephemeral range starts at ${low}: freePort asks the kernel`;
t.test('freePort picks below the ephemeral range, where no outgoing connection takes a port', { skip: rangeTooLow }, async (t) => {
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const p of ports) t.ok(p >= 20000 && p < low, `${p} is in [20000, ${low})`);
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(ports[0], '127.0.0.1', r));
  t.teardown(() => new Promise((r) => srv.close(r)));
  t.pass(`${ports[0]} could be bound`);
});
