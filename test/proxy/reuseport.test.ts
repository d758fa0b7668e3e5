/**
 * nginx's reuseport sockets drop queued connections at reload unless the kernel migrates
 * them (net.ipv4.tcp_migrate_req). Checked in a network namespace of the test's own, where
 * the setting starts at the kernel's default (0), so the machine's own value is untouched.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const module = fileURLToPath(new URL('../../dist/proxy/nginx/reuseport.js', import.meta.url));
const ns = `silo-reuseport-${process.pid}`;
const run = (...args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });

const usable = process.getuid?.() === 0 && existsSync('/proc/sys/net/ipv4/tcp_migrate_req') && run('ip', 'netns', 'add', ns).status === 0;

t.test('starting or reloading nginx turns on the migration of queued connections', { skip: usable ? false : 'needs root, ip netns and Linux 5.14+' }, async (t) => {
  t.teardown(() => run('ip', 'netns', 'delete', ns));
  const read = () => run('ip', 'netns', 'exec', ns, 'cat', '/proc/sys/net/ipv4/tcp_migrate_req').stdout.trim();
  t.equal(read(), '0', 'a fresh namespace starts with the kernel default');
  const call = run('ip', 'netns', 'exec', ns, process.execPath, '-e', `import(${JSON.stringify(module)}).then((m) => console.log(m.keepQueuedConnectionsOnReload()))`);
  t.equal(call.stdout.trim(), 'turned-on', call.stderr);
  t.equal(read(), '1', 'the setting is on afterwards');
  const again = run('ip', 'netns', 'exec', ns, process.execPath, '-e', `import(${JSON.stringify(module)}).then((m) => console.log(m.keepQueuedConnectionsOnReload()))`);
  t.equal(again.stdout.trim(), 'on', 'a second call finds it on');
});
