/**
 * Nobody stands in for the database server (issue 16 item 5, invariant 12). With the
 * embedded PostgreSQL stopped, an unprivileged local user (`nobody`) tries to take its
 * address: its Unix socket (refused: the folder is the server user's own) and the TCP
 * port an older silo listened on (free: nothing of silo's connects there any more).
 * There it runs a fake server that asks every client for its password in clear text and
 * writes down what it gets. The workers reconnect, the CLI asks for status: the fake
 * server hears from nobody. And a silo client that does reach it (`silo server add` with
 * its address) refuses to send the password. Then the real server comes back.
 */
import t from 'tap';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { startStack } from '../helpers/stack.js';
import { pm2Cli, serverUrl, sleep, waitUntil } from '../helpers/resilience.js';
import { parsePgUrl } from '../../src/contract/pg-connect.js';
import { lookupUser } from '../../src/isolation/os-users.js';
import { figures, NO_TAP_LOADER } from './hostile.js';

t.setTimeout(240_000);

if (process.getuid?.() !== 0 || !lookupUser('nobody')) {
  t.comment('needs root and the nobody user: skipped');
  process.exit(0);
}
const nobody = lookupUser('nobody')!;
const stack = await startStack(t);
const server = parsePgUrl(serverUrl(stack));
const socketPath = `${server.host}/.s.PGSQL.${server.port}`;
const adminPassword = server.password;

// The fake server: asks for a clear-text password (after declining TLS), records it.
const dir = mkdtempSync(join(tmpdir(), 'silo-fake-pg-'));
chmodSync(dir, 0o755);
const captured = join(dir, 'captured');
writeFileSync(captured, '');
chownSync(captured, nobody.uid, nobody.gid);
const fakeScript = join(dir, 'fake.cjs');
writeFileSync(
  fakeScript,
  `const net = require('net'); const fs = require('fs');
  const [where, out] = process.argv.slice(2);
  const srv = net.createServer((c) => {
    fs.appendFileSync(out, 'connection\\n');
    let buf = Buffer.alloc(0); let started = false;
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (!started) {
          if (buf.length < 8) return;
          const len = buf.readUInt32BE(0); if (buf.length < len) return;
          const code = buf.readUInt32BE(4); buf = buf.subarray(len);
          if (code === 80877103) { c.write('N'); continue; }
          started = true;
          const r = Buffer.alloc(9); r.write('R', 0); r.writeUInt32BE(8, 1); r.writeUInt32BE(3, 5); c.write(r);
          continue;
        }
        if (buf.length < 5) return;
        const len = buf.readUInt32BE(1); if (buf.length < 1 + len) return;
        if (buf[0] === 0x70) fs.appendFileSync(out, 'password ' + buf.subarray(5, len).toString('utf8').replace(/\\0$/, '') + '\\n');
        buf = buf.subarray(1 + len);
      }
    });
    c.on('error', () => {});
  });
  srv.on('error', (e) => { fs.appendFileSync(out, 'listen-error ' + e.code + '\\n'); process.exit(3); });
  srv.listen(/^[0-9]+$/.test(where) ? { port: Number(where), host: '127.0.0.1' } : where, () => fs.appendFileSync(out, 'listening ' + where + '\\n'));
  `,
);
chmodSync(fakeScript, 0o644);
const asNobody = ['--reuid', String(nobody.uid), '--regid', String(nobody.gid), '--clear-groups'];
const fakes: number[] = [];
t.teardown(() => {
  for (const pid of fakes) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const log = () => readFileSync(captured, 'utf8');

await t.test('the embedded server listens on its socket only, in a folder only its user can write', async (t) => {
  t.ok(server.host.startsWith('/'), `its address is a socket folder: ${server.host}`);
  const st = spawnSync('stat', ['-c', '%a %U', server.host], { encoding: 'utf8' }).stdout.trim();
  t.equal(st, '711 postgres', 'the folder is postgres\' own, 0711');
  const ss = spawnSync('ss', ['-Hltn', `sport = :${server.port}`], { encoding: 'utf8' });
  t.equal(ss.stdout.trim(), '', `nothing listens on TCP port ${server.port}`);
});

await t.test('with the server stopped, a local user cannot take its socket, and gets nothing on its old TCP port', async (t) => {
  const stopped = await pm2Cli(stack, ['stop', 'postgres-local']);
  t.equal(stopped.code, 0, 'the embedded server is stopped');
  await waitUntil('the socket to go', 15_000, () => spawnSync('test', ['-e', socketPath]).status !== 0, 100);

  // Its socket: refused.
  const onSocket = spawnSync('env', [...NO_TAP_LOADER, 'setpriv', ...asNobody, process.execPath, fakeScript, socketPath, captured], { encoding: 'utf8', timeout: 10_000 });
  t.not(onSocket.status, 0, 'nobody cannot listen on the socket path');
  t.match(log(), /listen-error EACCES/, 'EACCES');
  figures(t, 'bind-database-socket', /listen-error/.test(log()) ? 'refused' : 'succeeded');

  // Its old TCP port: free, so the fake server gets it.
  const fake = spawn('env', [...NO_TAP_LOADER, 'setpriv', ...asNobody, process.execPath, fakeScript, String(server.port), captured], { stdio: 'ignore' });
  fakes.push(fake.pid!);
  await waitUntil('the fake server to listen', 10_000, () => log().includes(`listening ${server.port}`), 50);

  // Workers reconnect (their requests need the database), the CLI asks.
  for (let i = 0; i < 10; i++) await stack.http('client1.localhost', '/api/polls').catch(() => undefined);
  await stack.http('client2.localhost', '/readyz').catch(() => undefined);
  const status = await stack.cli(['status', '--json']);
  t.ok(status.stdout.length > 0 || status.code !== 0, 'silo status ran');
  await sleep(1500); // the workers' pools retry with back-off (capped at 1 s)
  const heard = log();
  t.notMatch(heard, /^connection$/m, 'no worker and no silo command connected to the fake server');
  t.notMatch(heard, /^password/m, 'no password sent');
  figures(t, 'stand-in-on-old-tcp-port', /^password/m.test(heard) ? 'succeeded' : 'refused', { connections: (heard.match(/^connection$/gm) ?? []).length });
});

await t.test("a silo client sent to the fake server refuses its clear-text request", async (t) => {
  const url = `postgres://postgres:${encodeURIComponent(adminPassword)}@127.0.0.1:${server.port}/postgres`;
  const added = await stack.cli(['server', 'add', 'fake', url]);
  t.not(added.code, 0, 'server add fails');
  t.match(added.stderr, /authentication method requirement .*failed: server requested a cleartext password/, `and says why: ${added.stderr.trim()}`);
  t.notOk(added.stderr.includes(adminPassword), 'without printing the password');
  const heard = log();
  t.match(heard, /^connection$/m, 'it did reach the fake server');
  t.notOk(heard.includes(adminPassword), 'which never got the password');
  t.notMatch(heard, /^password/m, 'nor any password');
  figures(t, 'clear-text-password-request', /^password/m.test(heard) ? 'succeeded' : 'refused');
});

await t.test('the real server comes back and the stack serves', async (t) => {
  for (const pid of fakes.splice(0)) process.kill(pid, 'SIGKILL');
  const started = await pm2Cli(stack, ['start', 'postgres-local']);
  t.equal(started.code, 0);
  await waitUntil('client1 to serve', 30_000, async () => (await stack.http('client1.localhost', '/api/polls').catch(() => ({ status: 0 }))).status === 200, 200);
  t.pass('client1 serves again');
});
