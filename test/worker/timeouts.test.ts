/**
 * Slow clients cannot pin the worker: headers or a body trickling in too slowly get 408
 * and the socket is closed. (Production limits are longer; the mechanism is the same.)
 */
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { app } from '../../src/app/index.js';
import { buildWorker, defaultServerTimeouts } from '../../src/worker/app.js';
import { loadConfig } from '../../src/worker/config.js';

const dir = mkdtempSync(join(tmpdir(), 'silo-timeouts-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const passwordFile = join(dir, 'pw');
writeFileSync(passwordFile, 'pw\n');
chmodSync(passwordFile, 0o600);

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
  t.match(text, /^HTTP\/1\.1 408 /);
  t.ok(ms < 1500, `closed after ${Math.round(ms)} ms`);
});

t.test('a body trickling in too slowly gets 408', async (t) => {
  const body = '{"question":"q","choices":["a","b"]}';
  const head = `POST /api/polls HTTP/1.1\r\nHost: acme.localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  const { text, ms } = await trickle([head, ...body.match(/.{1,4}/g)!], 150);
  t.match(text, /^HTTP\/1\.1 408 /);
  t.ok(ms < 2000, `closed after ${Math.round(ms)} ms`);
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
  t.ok(ms < 2000, `closed after ${Math.round(ms)} ms`);
});
