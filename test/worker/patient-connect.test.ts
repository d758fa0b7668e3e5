/**
 * The worker's connect to its database server waits out a short refusal of a server that
 * was reachable (a server restarting), and refuses at once a server that never answered.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import { patientConnect } from '../../src/worker/patient-connect.js';

const dir = mkdtempSync(join(tmpdir(), 'silo-patient-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const opts = (path: string) => ({ path }) as unknown as postgres.ParsedOptions;
const listen = (path: string) =>
  new Promise<Server>((resolve) => {
    const server = createServer((s) => s.end());
    server.listen(path, () => resolve(server));
  });
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
const connected = async (p: Promise<postgres.SocketLike>) => (await p).destroy();

t.test('a server that never answered is refused at once', async (t) => {
  await t.rejects(patientConnect(2000)(opts(join(dir, 'never.sock')), '', 0), { code: 'ENOENT' });
});

t.test('a server that restarts within the patience is waited for', async (t) => {
  const path = join(dir, 'restarts.sock');
  const connect = patientConnect(5000);
  const first = await listen(path);
  await connected(connect(opts(path), '', 0));
  await close(first); // its socket file goes with it: ENOENT until it is back
  const back = sleep(300).then(() => listen(path));
  await connected(connect(opts(path), '', 0));
  t.pass('connected once it was back');
  await close(await back);
});

t.test('a server that stays away is refused after the patience, then at once', async (t) => {
  const path = join(dir, 'gone.sock');
  const connect = patientConnect(200);
  const server = await listen(path);
  await connected(connect(opts(path), '', 0));
  await close(server);
  await t.rejects(connect(opts(path), '', 0), { code: 'ENOENT' }, 'after the patience');
  await t.rejects(connect(opts(path), '', 0), { code: 'ENOENT' }, 'and the next one');
});

t.test('a server still recovering (57P03 to the startup message) is a closed connection, not an error', async (t) => {
  const path = join(dir, 'recovering.sock');
  const fields = Buffer.from('SFATAL\0VFATAL\0C57P03\0Mthe database system is not yet accepting connections\0\0');
  const len = Buffer.alloc(4);
  len.writeInt32BE(fields.length + 4);
  const server = createServer((s) => s.once('data', () => s.write(Buffer.concat([Buffer.from('E'), len, fields]))));
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => close(server));
  const socket = (await patientConnect(0)(opts(path), '', 0)) as unknown as import('node:net').Socket;
  const seen: string[] = [];
  socket.on('data', () => seen.push('data'));
  socket.on('error', () => seen.push('error'));
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.write('startup');
  await closed;
  t.same(seen, [], 'no data, no error: closed');
});

t.test('any other first message passes', async (t) => {
  const path = join(dir, 'ready.sock');
  const server = createServer((s) => s.once('data', () => s.write(Buffer.from('R\0\0\0\x08\0\0\0\0'))));
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => close(server));
  const socket = (await patientConnect(0)(opts(path), '', 0)) as unknown as import('node:net').Socket;
  const data = new Promise<Buffer>((r) => socket.once('data', r));
  socket.write('startup');
  t.equal((await data)[0], 0x52, 'the server\'s answer arrives');
  socket.destroy();
});
