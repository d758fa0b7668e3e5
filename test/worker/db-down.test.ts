/**
 * When the database is gone or hangs, the tenant answers 503 within its timeouts instead
 * of hanging, and recovers by itself when the database is back (no restart).
 *
 * No timed assertions (a loaded CI machine makes them flaky): which timeout answered is
 * proven by the answer's body ("database unavailable" from the driver, "request timed out"
 * from the request timeout, "not ready" from /readyz's own deadline); a hang would fail the
 * test at its timeout. How long each answer took is printed in `# figures:` lines.
 */
import t, { type Test } from 'tap';
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { app } from '../../src/app/index.js';
import { buildWorker } from '../../src/worker/app.js';
import { loadConfig } from '../../src/worker/config.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { provisionTenant } from './tenant-db.js';
import { passwordFile as makePasswordFile } from './password-file.js';

t.setTimeout(40_000);

const passwordFile = makePasswordFile(t, 'pw', 'silo-dbdown-');

const host = 'acme.localhost';
const UNAVAILABLE = { statusCode: 503, error: 'Service Unavailable', message: 'database unavailable' };
const TIMED_OUT = { statusCode: 503, error: 'Service Unavailable', message: 'request timed out' };
const NOT_READY = { statusCode: 503, error: 'Service Unavailable', message: 'not ready' };

/** A fake database server: `silent` accepts and never answers; `slam` closes each connection as soon as it speaks. */
async function fakeServer(t: Test, mode: 'silent' | 'slam'): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (mode === 'slam') socket.once('data', () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as { port: number }).port;
}

function worker(t: Test, dbPort: number, env: Record<string, string>) {
  const fastify = buildWorker(
    loadConfig({ TENANT: 'acme', PORT: '0', DB_PORT: String(dbPort), DB_PASSWORD_FILE: passwordFile, LOG_LEVEL: 'silent', ...env }),
    { app },
  );
  t.teardown(() => fastify.close());
  return fastify;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

function figures(t: Test, scenario: string, ms: Record<string, number>) {
  const rest = Object.entries(ms).map(([k, v]) => `${k}=${Math.round(v)}`);
  t.comment(['figures:', `scenario=${scenario}`, ...rest].join(' '));
}

t.test('a server that accepts and never answers: 503 after the connect timeout', async (t) => {
  const fastify = worker(t, await fakeServer(t, 'silent'), { DB_CONNECT_TIMEOUT_S: '0.5', REQUEST_TIMEOUT_MS: '3000' });
  const [res, ms] = await timed(() => fastify.inject({ method: 'GET', url: '/api/polls', headers: { host } }));
  t.equal(res.statusCode, 503);
  t.same(res.json(), UNAVAILABLE, 'the connect timeout answered, before the request timeout');
  const [ready, readyMs] = await timed(() => fastify.inject({ method: 'GET', url: '/readyz' }));
  t.equal(ready.statusCode, 503, '/readyz 503');
  t.same(ready.json(), NOT_READY, '/readyz answered itself, before the request timeout');
  figures(t, 'db-silent-connect-timeout', { answer_ms: ms, readyz_ms: readyMs });
});

t.test('when the request timeout is shorter than the connect timeout, it still answers 503 in time', async (t) => {
  const fastify = worker(t, await fakeServer(t, 'silent'), { DB_CONNECT_TIMEOUT_S: '30', REQUEST_TIMEOUT_MS: '600' });
  const [res, ms] = await timed(() =>
    fastify.inject({ method: 'POST', url: '/api/polls', headers: { host }, payload: { question: 'q', choices: ['a', 'b'] } }),
  );
  t.equal(res.statusCode, 503);
  t.same(res.json(), TIMED_OUT, 'the request timeout answered, not the 30 s connect timeout');
  // A lower bound only: load can delay a timer, never make it fire early.
  t.ok(ms >= 550, 'not before REQUEST_TIMEOUT_MS');
  const [ready, readyMs] = await timed(() => fastify.inject({ method: 'GET', url: '/readyz' }));
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), NOT_READY, "/readyz's own deadline (half the request timeout) answered, not the request timeout");
  figures(t, 'db-silent-request-timeout', { answer_ms: ms, readyz_ms: readyMs });
  const live = await fastify.inject({ method: 'GET', url: '/healthz' });
  t.equal(live.statusCode, 200, 'the process itself is alive');
});

t.test('a server that hangs up during startup (postgres.js would wait for ever): 503 in time', async (t) => {
  const fastify = worker(t, await fakeServer(t, 'slam'), { DB_CONNECT_TIMEOUT_S: '30', REQUEST_TIMEOUT_MS: '600' });
  const [res, ms] = await timed(() => fastify.inject({ method: 'GET', url: '/api/polls/1', headers: { host } }));
  t.equal(res.statusCode, 503);
  t.same(res.json(), TIMED_OUT, 'the request timeout answered the connection postgres.js waits on');
  figures(t, 'db-slams-startup', { answer_ms: ms });
});

t.test('nothing listening: 503 at once', async (t) => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const fastify = worker(t, port, {});
  const [res, ms] = await timed(() => fastify.inject({ method: 'GET', url: '/', headers: { host } }));
  t.equal(res.statusCode, 503);
  t.same(res.json(), UNAVAILABLE, 'the refused connection answered, not the request timeout');
  figures(t, 'db-refused', { answer_ms: ms });
});

t.test('the database stops and comes back: 503 meanwhile, then service resumes without a restart', async (t) => {
  const pg = await startTestPostgres(t);
  const tenant = await provisionTenant(t, pg, 'acme');
  await tenant.inspect.end();
  const fastify = buildWorker(tenant.config({ REQUEST_TIMEOUT_MS: '3000', DB_CONNECT_TIMEOUT_S: '1' }), { app });
  t.teardown(() => fastify.close());
  const get = (url: string) => fastify.inject({ method: 'GET', url, headers: { host } });

  const created = await fastify.inject({
    method: 'POST',
    url: '/api/polls',
    headers: { host },
    payload: { question: 'Survives an outage?', choices: ['yes', 'no'] },
  });
  t.equal(created.statusCode, 201);
  t.equal((await get('/readyz')).statusCode, 200, 'ready before');

  await pg.stop();
  const [down, ms] = await timed(() => get('/api/polls'));
  t.equal(down.statusCode, 503);
  t.same(down.json(), UNAVAILABLE, 'the lost database answered, not the request timeout');
  figures(t, 'db-stopped', { answer_ms: ms });
  t.equal((await get('/readyz')).statusCode, 503, 'not ready while down');
  t.equal((await get('/healthz')).statusCode, 200, 'still alive');

  await pg.start();
  let back: Awaited<ReturnType<typeof get>> | undefined;
  for (let i = 0; i < 50; i++) {
    back = await get('/api/polls');
    if (back.statusCode === 200) break;
    await sleep(100);
  }
  t.equal(back?.statusCode, 200, 'answers again once the database is back');
  t.match(back?.body, 'Survives an outage?', 'with the data written before');
  t.equal((await get('/readyz')).statusCode, 200, 'ready again');
});
