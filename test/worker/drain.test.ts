/**
 * A closing worker (a reload) answers the requests still in flight, and each of those
 * answers closes its connection, so no kept-alive connection to the old process goes
 * back to the proxy's pool.
 */
import t from 'tap';
import { Agent, request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { app } from '../../src/app/index.js';
import { buildWorker } from '../../src/worker/app.js';
import { loadConfig } from '../../src/worker/config.js';
import { passwordFile as makePasswordFile } from './password-file.js';

const passwordFile = makePasswordFile(t, 'pw', 'silo-drain-');

// A database that never answers keeps a request in flight until REQUEST_TIMEOUT_MS.
const held: Socket[] = [];
const silent = createServer((s) => held.push(s.on('error', () => {})));
await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
t.teardown(() => {
  for (const s of held) s.destroy();
  silent.close();
});

t.test('responses sent while closing carry Connection: close', async (t) => {
  const w = buildWorker(
    loadConfig({ TENANT: 'acme', PORT: '0', DB_PORT: String((silent.address() as { port: number }).port), DB_CONNECT_TIMEOUT_S: '30', REQUEST_TIMEOUT_MS: '800', DB_PASSWORD_FILE: passwordFile, LOG_LEVEL: 'silent' }),
    { app },
  );
  // The close must come once the worker has read the request: before that, the kept-alive
  // connection is idle to the server, and a closing server resets idle connections (a
  // fixed wait here was too short on a loaded machine: ECONNRESET instead of the answer).
  let arrived!: () => void;
  const reading = new Promise<void>((resolve) => (arrived = resolve));
  w.addHook('onRequest', async (req) => {
    if (req.url === '/api/polls') arrived();
  });
  await w.listen({ host: '127.0.0.1', port: 0 });
  const port = (w.server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = (path: string) =>
    new Promise<{ status: number; connection?: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, agent, headers: { host: 'acme.localhost' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
        .on('error', reject)
        .end();
    });
  const before = await get('/healthz');
  t.equal(before.connection, 'keep-alive', 'kept alive while running');
  const inFlight = get('/api/polls');
  await reading;
  const closed = w.close();
  const answer = await inFlight;
  await closed;
  t.equal(answer.status, 503, 'the request in flight is answered');
  t.equal(answer.connection, 'close', 'and its connection closed');
});
