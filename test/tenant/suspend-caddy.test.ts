/**
 * Suspend and resume through Caddy (its config is re-rendered and reloaded atomically;
 * nginx's path, with no reload, is in operations.test.ts): 503 + Retry-After, HTML for a
 * browser, the JSON error shape otherwise, the other tenant untouched.
 */
import t from 'tap';
import { startStack } from '../helpers/stack.js';

t.setTimeout(120_000);

t.test('suspend and resume with SILO_PROXY=caddy', async (t) => {
  const stack = await startStack(t, { proxy: 'caddy' });
  const api = (tenant: string, path: string, headers: Record<string, string> = {}) => stack.http(`${tenant}.localhost`, path, { headers });
  const r = await stack.cli(['tenant', 'suspend', 'client1', '--message', 'Back soon {at} `5`']);
  t.equal(r.code, 0, r.stderr);
  const json = await api('client1', '/api/polls');
  t.equal(json.status, 503);
  t.equal(json.headers['retry-after'], '300');
  t.same(json.json(), { statusCode: 503, error: 'Service Unavailable', message: 'Back soon {at} `5`', suspended: true });
  const page = await api('client1', '/', { accept: 'text/html' });
  t.equal(page.status, 503);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.text, /<h1>client1 is unavailable<\/h1>/);
  t.equal((await api('client2', '/api/tenant')).json().tenant, 'client2');
  t.equal((await stack.cli(['tenant', 'resume', 'client1'])).code, 0);
  t.equal((await api('client1', '/api/tenant')).json().tenant, 'client1');
});
