/**
 * listenOn (src/common/listen.ts), every TCP listener's and, through serverListen, every
 * Unix socket's: it resolves once the server listens, and a port already taken rejects
 * with the error instead of crashing the process, the server then no longer listening
 * for it. (Unix sockets: unix-socket.test.ts.)
 */
import t from 'tap';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { listenOn } from '../../src/common/listen.js';

const answers = (port: number) =>
  new Promise<string>((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    let got = '';
    c.on('data', (d) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', (err) => resolve(err.message));
  });

t.test('a TCP port on one host: listening once resolved; a taken port is refused, not a crash', async (t) => {
  const server = createServer((c) => c.end('hello'));
  t.teardown(() => server.close());
  await listenOn(server, { port: 0, host: '127.0.0.1' });
  const { port, address } = server.address() as AddressInfo;
  t.equal(address, '127.0.0.1', 'on the host asked for only');
  t.equal(await answers(port), 'hello', 'it answers');
  t.equal(server.listenerCount('error'), 0, 'no error listener left behind');

  const second = createServer();
  await t.rejects(listenOn(second, { port, host: '127.0.0.1' }), { code: 'EADDRINUSE' });
  t.equal(second.listening, false);
  t.equal(second.listenerCount('error'), 0, 'its error listener is gone with it');
  t.equal(await answers(port), 'hello', 'the first still answers');
});
