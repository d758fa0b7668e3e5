/**
 * Slow clients cannot pin the worker: headers or a body trickling in too slowly get 408
 * and the socket is closed. (Production limits are longer; the mechanism is the same.)
 */
import t from 'tap';
import { connect } from 'node:net';
import { app } from '../../src/app/index.js';
import { buildWorker, defaultServerTimeouts } from '../../src/worker/app.js';
import { loadConfig } from '../../src/worker/config.js';
import { passwordFile as makePasswordFile } from './password-file.js';

const passwordFile = makePasswordFile(t, 'pw', 'silo-timeouts-');

const fastify = buildWorker(
  loadConfig({ TENANT: 'acme', PORT: '0', DB_PORT: '1', DB_PASSWORD_FILE: passwordFile, LOG_LEVEL: 'silent' }),
  { app, timeouts: { headersMs: 400, requestMs: 800, checkIntervalMs: 100 } },
);
t.teardown(() => fastify.close());
await fastify.listen({ host: '127.0.0.1', port: 0 });
const { port } = fastify.server.address() as { port: number };

/** Writes `parts` one every `gapMs`, returns what the server said and when it hung up. */
function trickle(parts: string[], gapMs: number, to = port): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const socket = connect(to, '127.0.0.1');
    let text = '';
    let i = 0;
    const timer = setInterval(() => {
      if (i < parts.length && !socket.destroyed) socket.write(parts[i++]!);
    }, gapMs);
    socket.on('data', (d) => (text += d));
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ text, ms: performance.now() - start });
    });
    socket.on('error', reject);
  });
}

t.test('the production defaults keep the proxy in charge of idle keep-alive connections', async (t) => {
  t.ok(defaultServerTimeouts.keepAliveMs > 60_000, 'above nginx upstream keepalive_timeout (60 s)');
  t.ok(defaultServerTimeouts.headersMs <= defaultServerTimeouts.requestMs);
  t.equal(fastify.server.keepAliveTimeout, defaultServerTimeouts.keepAliveMs);
});

t.test('headers trickling in too slowly get 408', async (t) => {
  const parts = ['GET /healthz HTTP/1.1\r\n', 'Host: acme.localhost\r\n', 'X-A: 1\r\n', 'X-B: 1\r\n', 'X-C: 1\r\n', 'X-D: 1\r\n', '\r\n'];
  const { text, ms } = await trickle(parts, 250);
  // 408, not the 200 /healthz gives: the headers timeout ended it before the headers were in.
  t.match(text, /^HTTP\/1\.1 408 /);
  t.comment(`figures: scenario=slow-headers headersMs=400 closed_after_ms=${Math.round(ms)}`);
});

t.test('a body trickling in too slowly gets 408', async (t) => {
  const body = '{"question":"q","choices":["a","b"]}';
  const head = `POST /api/polls HTTP/1.1\r\nHost: acme.localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  const { text, ms } = await trickle([head, ...body.match(/.{1,4}/g)!], 150);
  // 408, not the 503 a poll insert gives here (no database): the request timeout ended it.
  t.match(text, /^HTTP\/1\.1 408 /);
  t.comment(`figures: scenario=slow-body requestMs=800 closed_after_ms=${Math.round(ms)}`);
});

t.test('a body still trickling in when the handler timeout fires gets 408, not 503', async (t) => {
  // Production order: REQUEST_TIMEOUT_MS (handler, 10 s) fires before Node's requestTimeout (30 s).
  const slowBody = buildWorker(
    loadConfig({ TENANT: 'acme', PORT: '0', DB_PORT: '1', DB_PASSWORD_FILE: passwordFile, LOG_LEVEL: 'silent', REQUEST_TIMEOUT_MS: '500' }),
    { app, timeouts: { headersMs: 5000, requestMs: 5000, checkIntervalMs: 100 } },
  );
  t.teardown(() => slowBody.close());
  await slowBody.listen({ host: '127.0.0.1', port: 0 });
  const p = (slowBody.server.address() as { port: number }).port;
  const body = '{"question":"q","choices":["a","b"]}';
  const head = `POST /api/polls HTTP/1.1\r\nHost: acme.localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  const { text, ms } = await trickle([head, ...body.match(/.{1,2}/g)!], 150, p);
  t.match(text, /^HTTP\/1\.1 408 /);
  t.match(text, '"message":"the request took too long to arrive"');
  t.comment(`figures: scenario=slow-body-handler-timeout REQUEST_TIMEOUT_MS=500 closed_after_ms=${Math.round(ms)}`);
});

t.test('a POST waiting on a database that never answers gets 503 within REQUEST_TIMEOUT_MS, over a real socket', async (t) => {
  // Fastify 5.12's handlerTimeout is disarmed once a body has been read; inject() does not
  // show it (no real 'close' event), so this goes over TCP.
  const { createServer } = await import('node:net');
  const held: import('node:net').Socket[] = [];
  const silent = createServer((s) => held.push(s.on('error', () => {})));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const dbPort = (silent.address() as { port: number }).port;
  const w = buildWorker(
    loadConfig({ TENANT: 'acme', PORT: '0', DB_PORT: String(dbPort), DB_CONNECT_TIMEOUT_S: '30', REQUEST_TIMEOUT_MS: '600', DB_PASSWORD_FILE: passwordFile, LOG_LEVEL: 'silent' }),
    { app },
  );
  t.teardown(() => w.close());
  await w.listen({ host: '127.0.0.1', port: 0 });
  const p = (w.server.address() as { port: number }).port;
  const figures: string[] = [];
  for (const [method, path, body] of [['POST', '/api/polls', '{"question":"q","choices":["a","b"]}'], ['POST', '/api/polls/1/votes', '{"choiceId":1,"voter":"v"}'], ['DELETE', '/api/polls/1', ''], ['GET', '/api/polls', '']] as const) {
    const head = `${method} ${path} HTTP/1.1\r\nHost: acme.localhost\r\nConnection: close\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : ''}\r\n`;
    const { text, ms } = await trickle([head + body], 10, p);
    t.match(text, /^HTTP\/1\.1 503 /, `${method} ${path}: 503`);
    // "request timed out", not "database unavailable" (the 30 s connect timeout): the
    // request timeout answered. A lower bound only (load cannot make it fire early).
    t.match(text, '"message":"request timed out"');
    t.ok(ms >= 550, `${method} ${path}: not before REQUEST_TIMEOUT_MS`);
    figures.push(`${method}_${path.replaceAll('/', '_')}_ms=${Math.round(ms)}`);
  }
  t.comment(`figures: scenario=db-never-answers REQUEST_TIMEOUT_MS=600 ${figures.join(' ')}`);
});
