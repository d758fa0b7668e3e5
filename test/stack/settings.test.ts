/**
 * A stack started with SILO_PROXY=caddy, then driven from a shell without it: commands
 * use the recorded proxy, a domain added later is served after `reload`, and a
 * conflicting environment value is one line. While the stack is supposed to run, commands
 * wait for its database server rather than start a private one.
 */
import t from 'tap';
import { join } from 'node:path';
import { startStack } from '../helpers/stack.js';
import { pm2Cli } from '../helpers/resilience.js';
import { runningPid } from '../../src/postgres/embedded.js';

t.setTimeout(170_000);

const stack = await startStack(t, { proxy: 'caddy' });
const bare = { SILO_PROXY: undefined };

t.test('a create from a shell without SILO_PROXY routes through the recorded caddy', async (t) => {
  const created = await stack.cli(['tenant', 'create', 'third'], bare);
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /live at http:\/\/third\.localhost/);
  t.same((await stack.http('third.localhost', '/api/tenant')).json(), { tenant: 'third' });
  const status = JSON.parse((await stack.cli(['status', '--json'], bare)).stdout);
  t.equal(status.proxy.kind, 'caddy');
});

t.test('a domain added to a running tenant is served, and after reload too', async (t) => {
  const added = await stack.cli(['tenant', 'create', 'client2', '--domain', 'polls.example.test'], bare);
  t.equal(added.code, 0, added.stderr);
  t.same((await stack.http('polls.example.test', '/api/tenant')).json(), { tenant: 'client2' }, 'served at once');
  const reload = await stack.cli(['reload', 'client2'], bare);
  t.equal(reload.code, 0, reload.stderr);
  t.same((await stack.http('polls.example.test', '/api/tenant')).json(), { tenant: 'client2' }, 'still served after reload');
  t.same((await stack.http('client2.localhost', '/api/tenant')).json(), { tenant: 'client2' });
});

t.test('a conflicting environment value is one line and changes nothing', async (t) => {
  const r = await stack.cli(['tenant', 'create', 'fourth'], { SILO_PROXY: 'nginx' });
  t.equal(r.code, 1);
  t.equal(r.stderr, "silo: SILO_PROXY=nginx differs from this stack's recorded caddy: unset it to use the recorded value, or change it with silo down, then SILO_PROXY=... silo up\n");
  const up = await stack.cli(['up'], { SILO_PROXY: 'nginx' });
  t.equal(up.code, 1, 'up refuses to change the proxy of a running stack');
  t.equal((await stack.http('fourth.localhost', '/api/tenant')).status, 404);
});

t.test('while the stack is supposed to run, a command never starts a private database server', async (t) => {
  // PM2 will not restart an app stopped by hand: the stack's server stays down.
  const stopped = await pm2Cli(stack, ['stop', 'postgres-local']);
  t.equal(stopped.code, 0, stopped.stderr);
  t.teardown(() => pm2Cli(stack, ['start', 'postgres-local']));
  const migrate = await stack.cli(['migrate'], bare);
  t.equal(migrate.code, 1, 'migrate fails instead of migrating a private copy');
  t.match(migrate.stdout, /^client1: FAILED: the stack's database server "local" does not answer .*run silo up/m, 'each tenant says why');
  t.match(migrate.stderr, /^silo: migration failed for client1, client2/);
  t.equal(runningPid(join(stack.home, 'postgres', 'local')), undefined, 'no postgres was started for it');
  const status = JSON.parse((await stack.cli(['status', '--json'], bare)).stdout);
  t.match(status.servers, [{ name: 'local', status: 'down', pm2: 'stopped' }], 'status says so');
  const up = await stack.cli(['up'], bare);
  t.equal(up.code, 0, up.stderr);
  t.equal((await stack.cli(['migrate'], bare)).code, 0, 'after up, migrate works');
});
