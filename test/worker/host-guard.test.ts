/**
 * The host guard, on a worker whose database is not even running: a request for another
 * host must be refused before anything could touch tenant data.
 */
import t from 'tap';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { app } from '../../src/app/index.js';
import { buildWorker } from '../../src/worker/app.js';
import { loadConfig } from '../../src/worker/config.js';
import { normaliseHost, requestTargetHost } from '../../src/worker/host-guard.js';
import { freePort } from '../../src/common/ports.js';
import { passwordFile as makePasswordFile } from './password-file.js';

const passwordFile = makePasswordFile(t, 'secret-password', 'silo-guard-');

const logLines: string[] = [];
const logStream = new Writable({
  write(chunk, _enc, done) {
    logLines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});

const config = loadConfig({
  TENANT: 'acme',
  PORT: '0',
  TENANT_HOSTS: 'acme.localhost,www.acme.test',
  DB_PORT: String(await freePort()), // nothing listens there
  DB_PASSWORD_FILE: passwordFile,
  LOG_LEVEL: 'info',
  LOG_REQUESTS: 'true', // per-request lines are off by default; this test reads them
  REQUEST_TIMEOUT_MS: '2000',
});
const fastify = buildWorker(config, { app, logStream });
t.teardown(() => fastify.close());

const MISDIRECTED = { statusCode: 421, error: 'Misdirected Request', message: 'this server does not serve that host' };

const get = (url: string, headers: Record<string, string>) => fastify.inject({ method: 'GET', url, headers });

t.test('normaliseHost lower-cases and strips the port and one trailing dot', async (t) => {
  t.equal(normaliseHost('ACME.Localhost:8080'), 'acme.localhost');
  t.equal(normaliseHost('acme.localhost.'), 'acme.localhost');
  t.equal(normaliseHost('acme.localhost.:80'), 'acme.localhost');
  t.equal(normaliseHost('acme.localhost..'), 'acme.localhost.');
  t.equal(normaliseHost('acme.localhost:'), '');
  t.equal(normaliseHost('acme.localhost:8o'), '');
  t.equal(normaliseHost('[::1]:8080'), '[::1]:8080');
  t.equal(normaliseHost(''), '');
  t.equal(normaliseHost(undefined), '');
});

t.test('requestTargetHost reads the host of an absolute-form request target', async (t) => {
  t.equal(requestTargetHost('/api/tenant'), undefined);
  t.equal(requestTargetHost('http://Other.Localhost:80/api'), 'other.localhost');
  t.equal(requestTargetHost('HTTPS://acme.localhost'), 'acme.localhost');
  t.equal(requestTargetHost('http://acme.localhost@other.localhost/'), '');
  t.equal(requestTargetHost('ftp://acme.localhost/'), '');
  t.equal(requestTargetHost('*'), '');
});

t.test('the tenant hosts are served, in any case, with a port or a trailing dot', async (t) => {
  for (const host of ['acme.localhost', 'ACME.LOCALHOST:8080', 'acme.localhost.', 'www.acme.test']) {
    const res = await get('/api/tenant', { host });
    t.equal(res.statusCode, 200, host);
    t.same(res.json(), { tenant: 'acme' });
  }
});

t.test('any other host gets 421 and no data', async (t) => {
  for (const host of ['other.localhost', 'localhost', 'acme.localhost.evil.test', 'evil.test', '127.0.0.1', '127.0.0.1:8080', '[::1]:8080', 'acme.localhost..', 'acme.localhost:x']) {
    for (const url of ['/api/tenant', '/api/polls', '/', '/no-such-route']) {
      const res = await get(url, { host });
      t.equal(res.statusCode, 421, `${host} ${url}`);
      t.same(res.json(), MISDIRECTED);
      t.notMatch(res.body, 'acme');
    }
  }
  const post = await fastify.inject({ method: 'POST', url: '/api/polls', headers: { host: 'other.localhost' }, payload: { question: 'q', choices: ['a', 'b'] } });
  t.equal(post.statusCode, 421, 'a write is refused before its body is read');
});

t.test('X-Forwarded-Host and Forwarded never select a tenant', async (t) => {
  const spoofed = await get('/api/tenant', { host: 'acme.localhost', 'x-forwarded-host': 'other.localhost' });
  t.equal(spoofed.statusCode, 200);
  t.same(spoofed.json(), { tenant: 'acme' }, 'X-Forwarded-Host naming another tenant is ignored');
  const smuggled = await get('/api/tenant', { host: 'other.localhost', 'x-forwarded-host': 'acme.localhost', forwarded: 'host=acme.localhost' });
  t.equal(smuggled.statusCode, 421, 'nor can it make another host pass');
});

t.test('health endpoints skip the guard and reveal nothing else', async (t) => {
  const live = await get('/healthz', { host: 'anything.example' });
  t.equal(live.statusCode, 200);
  t.same(live.json(), { status: 'ok' });
  const ready = await get('/readyz', { host: '10.1.2.3' });
  t.equal(ready.statusCode, 503, 'not ready: the database is down, but not a 421');
  t.same(ready.json(), { statusCode: 503, error: 'Service Unavailable', message: 'not ready' });
  for (const res of [live, ready]) {
    t.notMatch(res.body, /acme|version|postgres/i);
    t.notOk(res.headers['x-powered-by']);
  }
});

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

t.test('on the wire: missing, empty or duplicate Host headers are refused', async (t) => {
  await fastify.listen({ host: '127.0.0.1', port: 0 });
  const { port } = fastify.server.address() as { port: number };

  const http10 = await rawRequest(port, 'GET /api/tenant HTTP/1.0\r\n\r\n');
  t.match(http10, /^HTTP\/1\.[01] 421 /, 'HTTP/1.0 without Host: 421');
  t.notMatch(http10, '"tenant"');

  const http11 = await rawRequest(port, 'GET /api/tenant HTTP/1.1\r\nConnection: close\r\n\r\n');
  t.match(http11, /^HTTP\/1\.1 400 /, 'HTTP/1.1 without Host: 400');

  const empty = await rawRequest(port, 'GET /api/tenant HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n');
  t.match(empty, /^HTTP\/1\.1 (400|421) /, 'empty Host');
  t.notMatch(empty, '"tenant"');

  for (const [first, second] of [['acme.localhost', 'other.localhost'], ['other.localhost', 'acme.localhost'], ['acme.localhost', 'acme.localhost']]) {
    const dup = await rawRequest(port, `GET /api/tenant HTTP/1.1\r\nHost: ${first}\r\nHost: ${second}\r\nConnection: close\r\n\r\n`);
    t.match(dup, /^HTTP\/1\.1 400 /, `duplicate Host ${first}, ${second}`);
    t.notMatch(dup, '"tenant"');
  }

  // Absolute form: the URI's host counts (RFC 9112 3.2.2), and it must be ours as well.
  for (const target of ['http://other.localhost/api/tenant', 'http://evil.test/api/tenant', 'http://acme.localhost@other.localhost/api/tenant', 'ftp://acme.localhost/api/tenant']) {
    const abs = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: acme.localhost\r\nConnection: close\r\n\r\n`);
    t.match(abs, /^HTTP\/1\.1 (400|421) /, `absolute form ${target} with our Host`);
    t.notMatch(abs, '"tenant"');
  }
  const absOwn = await rawRequest(port, 'GET http://ACME.localhost:8080/api/tenant HTTP/1.1\r\nHost: acme.localhost\r\nConnection: close\r\n\r\n');
  t.match(absOwn, /^HTTP\/1\.1 200 /, 'absolute form naming our own host');

  const ok = await rawRequest(port, 'GET /api/tenant HTTP/1.1\r\nHost: acme.localhost\r\nConnection: close\r\n\r\n');
  t.match(ok, /^HTTP\/1\.1 200 /);
  t.match(ok, '{"tenant":"acme"}');
});

t.test('every log line carries the tenant, and no secret', async (t) => {
  await get('/api/tenant', { host: 'acme.localhost', authorization: 'Bearer s3cr3t', cookie: 'sid=s3cr3t' });
  t.ok(logLines.length > 5, 'something was logged');
  for (const line of logLines) {
    const entry = JSON.parse(line) as { tenant?: string };
    t.equal(entry.tenant, 'acme', 'tenant on every line');
  }
  const all = logLines.join('\n');
  t.notMatch(all, 's3cr3t');
  t.notMatch(all, 'secret-password');
});
