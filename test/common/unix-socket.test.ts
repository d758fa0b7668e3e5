/**
 * Every socket silo listens on is made by bindUnixSocket: when its path appears it already
 * has its mode and group, a stale file left at the path is replaced, nothing is left aside.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindUnixSocket, forProxy, serverListen } from '../../src/common/unix-socket.js';

const dir = mkdtempSync(join(tmpdir(), 'silo-socket-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const connects = (path: string) =>
  new Promise<boolean>((resolve) => {
    const c = createConnection(path, () => (c.end(), resolve(true)));
    c.on('error', () => resolve(false));
  });

t.test('a socket for the proxy: 0660 to its group from the moment its path exists, over a stale file', async (t) => {
  const path = join(dir, 'waker.sock');
  writeFileSync(path, 'left by a crashed predecessor');
  const server = createServer((c) => c.end());
  t.teardown(() => server.close());
  const group = process.getuid?.() === 0 ? 4242 : undefined;
  let seen: string | undefined;
  const ino = await bindUnixSocket(path, forProxy(group), async (temp) => {
    await serverListen(server)(temp);
    seen = statSync(path).isSocket() ? 'a socket' : 'the stale file'; // still the old file while the new one is made
  });
  t.equal(seen, 'the stale file', 'the path kept its old file until the socket was ready');
  const st = statSync(path);
  t.ok(st.isSocket(), 'now a socket');
  t.equal(st.ino, ino, 'the inode returned is the one at the path');
  t.equal(st.mode & 0o777, group !== undefined ? 0o660 : 0o600);
  if (group !== undefined) t.same([st.uid, st.gid], [0, group], "root's and the proxy's group");
  t.same(readdirSync(dir).sort(), ['waker.sock'], 'nothing left under a temporary name');
  t.ok(await connects(path), 'it answers');
});

t.test('a private socket is 0600; a failed listen is refused and leaves nothing', async (t) => {
  const own = mkdtempSync(join(dir, 'private-'));
  const path = join(own, 'control.sock');
  const server = createServer((c) => c.end());
  t.teardown(() => server.close());
  await bindUnixSocket(path, { mode: 0o600 }, serverListen(server));
  t.equal(statSync(path).mode & 0o777, 0o600);
  const other = createServer();
  await t.rejects(bindUnixSocket(join(own, 'nowhere', 'x.sock'), { mode: 0o600 }, serverListen(other)), /EACCES|ENOENT/);
  t.same(readdirSync(own), ['control.sock'], 'nothing left');
});
