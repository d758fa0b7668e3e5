/**
 * A stack started with SILO_PROXY=caddy, then driven from a shell without it: commands
 * use the recorded proxy, a domain added later is served after `reload`, and a
 * conflicting environment value is one line.
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';

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
