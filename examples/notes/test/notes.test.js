// The notes app's own tests, per tenant, on a real silo stack (silo/testing): two
// tenants, each with its own database, worker and hostname.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { startTenants } from 'silo/testing';

const app = fileURLToPath(new URL('..', import.meta.url));
const stack = await startTenants({ app, tenants: ['acme', 'globex'] });
t.teardown(stack.stop);

t.test('a note written to one tenant is listed there and nowhere else', async (t) => {
  const created = await stack.request('acme', '/api/notes', { method: 'POST', body: { text: 'acme only' } });
  t.equal(created.status, 201, created.text);
  t.match(created.json(), { text: 'acme only', expiresAt: null });
  t.same((await stack.request('acme', '/api/notes')).json().map((n) => n.text), ['acme only']);
  t.same((await stack.request('globex', '/api/notes')).json(), []);
});

t.test('expiresIn takes a duration (the ms package) and rejects anything else', async (t) => {
  const ok = await stack.request('globex', '/api/notes', { method: 'POST', body: { text: 'soon', expiresIn: '2h' } });
  t.equal(ok.status, 201, ok.text);
  const hours = (Date.parse(ok.json().expiresAt) - Date.now()) / 3_600_000;
  t.ok(hours > 1.9 && hours <= 2, `expires in about 2 hours (${hours.toFixed(3)})`);
  const bad = await stack.request('globex', '/api/notes', { method: 'POST', body: { text: 'x', expiresIn: 'whenever' } });
  t.equal(bad.status, 400);
  t.match(bad.json(), { statusCode: 400, message: /not a duration/ });
});

t.test('each tenant runs the app and answers only for its own host', async (t) => {
  t.same((await stack.request('acme', '/api/version')).json(), { app: 'notes', version: '1.0.0' });
  const wrongHost = await stack.request('acme', '/api/notes', { headers: { host: 'nobody.localhost' } });
  t.equal(wrongHost.status, 404, 'the proxy answers an unknown host itself');
});
