/**
 * SILO_CONTROL_HOST: the control API through the proxy on an admin host, nginx and Caddy,
 * against a real stack. Tokens are required there as on the socket; the tenants and the
 * proxy's 404 for unknown hosts are unchanged; `status --json` names the URL.
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { makeToken } from '../helpers/control.js';

for (const proxy of ['nginx', 'caddy'] as const) {
  t.test(`through ${proxy}`, async (t) => {
    const stack = await startStack(t, { proxy, env: { SILO_CONTROL: 'on', SILO_CONTROL_HOST: 'admin.localhost', SILO_HIBERNATE_AFTER: '0' } });
    const read = await makeToken(stack, '--scope', 'read');
    const st = JSON.parse((await stack.cli(['status', '--json'])).stdout);
    t.equal(st.control.url, `http://admin.localhost:${stack.httpPort}/`);

    const auth = { authorization: `Bearer ${read}` };
    // The control app may still be starting when up returns: wait for its first answer.
    let list = await stack.http('admin.localhost', '/v1/tenants', { headers: auth });
    for (let i = 0; i < 100 && list.status === 502; i++) {
      await new Promise((r) => setTimeout(r, 100));
      list = await stack.http('admin.localhost', '/v1/tenants', { headers: auth });
    }
    t.equal(list.status, 200, list.text);
    t.same((list.json() as { name: string }[]).map((x) => x.name), ['client1', 'client2']);
    const anonymous = await stack.http('admin.localhost', '/v1/tenants');
    t.equal(anonymous.status, 401);
    t.match(anonymous.json(), { statusCode: 401, error: 'Unauthorized' });
    const write = await stack.http('admin.localhost', '/v1/tenants', { method: 'POST', body: { name: 'nope' }, headers: auth });
    t.equal(write.status, 403);
    t.equal((await stack.http('client1.localhost', '/api/tenant')).status, 200, 'tenants as before');
    t.equal((await stack.http('nobody.localhost', '/api/tenant')).status, 404, 'unknown hosts as before');
  });
}
