/**
 * The sign-up flow against a real stack (PostgreSQL, PM2, nginx) with SILO_CONTROL=on: a
 * write token creates a tenant through the control API on its Unix socket, the job is
 * polled to done, the sign-up system's webhook receiver gets tenant.created signed with
 * its hook's secret, and the new tenant answers through the proxy. Then the operations a
 * billing system runs (suspend, resume), a removal, the refusals (401, 403, 404, 409) and
 * Idempotency-Key, each against the same running `control` app.
 */
import t from 'tap';
import { statSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack } from '../helpers/stack.js';
import { controlClient, makeToken } from '../helpers/control.js';
import { webhookReceiver, type Received } from '../helpers/webhook-receiver.js';
import { freePort } from '../../src/common/ports.js';

const stack = await startStack(t, { env: { SILO_CONTROL: 'on', SILO_HIBERNATE_AFTER: '0' } });
const api = await controlClient(stack);
const write = await makeToken(stack, '--scope', 'write');
const read = await makeToken(stack, '--scope', 'read');
const client1 = await makeToken(stack, '--scope', 'write', '--tenant', 'client1');

// The sign-up system's receiver: a real HTTP server, registered as a webhook for tenant.created.
const hookPort = await freePort();
const hookReceiver = await webhookReceiver(hookPort);
t.teardown(() => hookReceiver.close());
const received = hookReceiver.got;
const hook = await stack.cli(['webhook', 'add', `http://127.0.0.1:${hookPort}/signup-events`, '--events', 'tenant.created']);
t.equal(hook.code, 0, hook.stderr);
const hookSecret = hook.stdout.trim().split('\n').pop()!;

t.test('the control app runs under PM2 on a socket only its user can open', async (t) => {
  t.match(stack.up.stdout, /started control on /);
  t.equal(statSync(api.socket).mode & 0o777, 0o600);
  const st = JSON.parse((await stack.cli(['status', '--json'])).stdout);
  t.equal(st.control.status, 'online');
  t.equal(st.control.url, null);
  const ls = await stack.cli(['status']);
  t.match(ls.stdout, /control API: online/);
});

t.test('sign-up: a write token creates a tenant, the job gets done, the tenant answers through the proxy', async (t) => {
  const r = await api.call('POST', '/v1/tenants', { token: write, body: { name: 'signup1' }, headers: { 'idempotency-key': 'signup-signup1' } });
  t.equal(r.status, 202, r.text);
  const { job } = r.json();
  t.match(job, { id: /^job_/, state: /^(queued|running)$/ });
  t.equal(r.headers.location, `/v1/jobs/${job.id}`);
  const done = await api.waitJob(job.id, write);
  t.equal(done.state, 'done', done.error ?? 'the job is done');
  t.ok(done.steps.includes('create:register') && done.steps.includes('create:route'), `steps: ${done.steps.join(', ')}`);
  // The webhook: tenant.created for signup1, signed over `<t>.<body>` with the hook's secret.
  const deadline = Date.now() + 60_000;
  const isSignup = (r: Received) => r.headers['silo-event'] === 'tenant.created' && r.body.includes('"signup1"');
  while (!received.some(isSignup) && Date.now() < deadline) await sleep(100);
  const hit = received.find(isSignup);
  t.ok(hit, 'the receiver got tenant.created for signup1');
  if (hit) {
    t.match(JSON.parse(hit.body), { type: 'tenant.created', data: { tenant: 'signup1' } });
    const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hit.headers['silo-signature'])) ?? [];
    t.equal(v1, createHmac('sha256', hookSecret).update(`${ts}.${hit.body}`).digest('hex'), 'signed with the hook secret');
  }
  const answer = await stack.http('signup1.localhost', '/api/tenant');
  t.equal(answer.status, 200);
  t.same(answer.json(), { tenant: 'signup1' });
  const list = await api.call('GET', '/v1/tenants', { token: read });
  t.ok((list.json() as { name: string }[]).some((x) => x.name === 'signup1'));
  const one = await api.call('GET', '/v1/tenants/signup1', { token: read });
  t.match(one.json(), { name: 'signup1', state: 'ready', url: /signup1\.localhost/ });
  // What the CLI sees is the same registry.
  t.match((await stack.cli(['tenant', 'list'])).stdout, /signup1/);
});

t.test('Idempotency-Key: the same request is the same job, another request a 409', async (t) => {
  const again = await api.call('POST', '/v1/tenants', { token: write, body: { name: 'signup1' }, headers: { 'idempotency-key': 'signup-signup1' } });
  t.equal(again.status, 202);
  const first = (await api.call('GET', '/v1/jobs', { token: read })).json() as { id: string; idempotencyKey?: string }[];
  t.equal(again.json().job.id, first.find((j) => j.idempotencyKey === 'signup-signup1')?.id);
  t.equal(again.json().job.state, 'done');
  const other = await api.call('POST', '/v1/tenants', { token: write, body: { name: 'signup2' }, headers: { 'idempotency-key': 'signup-signup1' } });
  t.equal(other.status, 409);
  t.match(other.json(), { statusCode: 409, error: 'Conflict', message: /used for another request/ });
});

t.test('refusals: no token, a bad one, read scope on a write, a tenant token on another tenant', async (t) => {
  t.equal((await api.call('GET', '/v1/tenants')).status, 401);
  t.equal((await api.call('GET', '/v1/tenants', { token: write.slice(0, -2) + 'zz' })).status, 401);
  const ro = await api.call('POST', '/v1/tenants', { token: read, body: { name: 'signup3' } });
  t.equal(ro.status, 403);
  t.match(ro.json(), { statusCode: 403, error: 'Forbidden', message: /read scope/ });
  const other = await api.call('POST', '/v1/tenants/signup1/suspend', { token: client1, body: {} });
  t.equal(other.status, 403);
  t.match(other.json().message, /limited to tenant client1, not signup1/);
  t.equal((await api.call('GET', '/v1/tenants/client1', { token: client1 })).status, 200, 'its own tenant is fine');
  t.same((await api.call('GET', '/v1/tenants', { token: client1 })).json().map((x: { name: string }) => x.name), ['client1']);
  t.equal((await api.call('DELETE', '/v1/tenants/nobody', { token: write })).status, 404);
  t.equal((await stack.http('signup3.localhost', '/api/tenant')).status, 404, 'nothing was created');
});

t.test('suspend and resume through the API: the proxy answers 503, then the tenant again', async (t) => {
  const s = await api.call('POST', '/v1/tenants/signup1/suspend', { token: write, body: { message: 'billing' } });
  t.equal(s.status, 202, s.text);
  t.equal((await api.waitJob(s.json().job.id, write)).state, 'done');
  t.equal((await stack.http('signup1.localhost', '/api/tenant')).status, 503);
  const r = await api.call('POST', '/v1/tenants/signup1/resume', { token: write });
  t.equal((await api.waitJob(r.json().job.id, write)).state, 'done');
  t.equal((await stack.http('signup1.localhost', '/api/tenant')).status, 200);
});

t.test('remove through the API: dumped, then gone from the proxy and the registry', async (t) => {
  const r = await api.call('DELETE', '/v1/tenants/signup1', { token: write });
  t.equal(r.status, 202, r.text);
  const done = await api.waitJob(r.json().job.id, write);
  t.equal(done.state, 'done', done.error ?? 'the job is done');
  t.match(done.result, { name: 'signup1', backup: /signup1/ });
  t.equal((await stack.http('signup1.localhost', '/api/tenant')).status, 404);
  t.equal((await api.call('GET', '/v1/tenants/signup1', { token: read })).status, 404);
  t.match((await stack.cli(['backup', 'list', '--tenant', 'signup1'])).stdout, /final/);
});

t.test('GET /metrics on the same listener: a read token of the fleet', async (t) => {
  const m = await api.call('GET', '/metrics', { token: read });
  t.equal(m.status, 200);
  t.match(m.headers['content-type'], /text\/plain/);
  t.match(m.text, /client1/);
  t.equal((await api.call('GET', '/metrics')).status, 401);
  t.equal((await api.call('GET', '/metrics', { token: client1 })).status, 403, 'a tenant token does not see the fleet');
  const doc = (await api.call('GET', '/v1/openapi.json', { token: read })).json();
  t.ok(doc.paths['/metrics'], 'the OpenAPI document lists /metrics');
  t.notOk(Object.keys(doc.paths).some((p) => p.startsWith('/console')), 'and not the console pages');
});

t.test('the audit log names the token that acted', async (t) => {
  const id = JSON.parse((await stack.cli(['token', 'list', '--json'])).stdout).find((x: { scope: string; tenant?: string }) => x.scope === 'write' && !x.tenant).id;
  const audit = JSON.parse((await stack.cli(['audit', '--tenant', 'signup1', '--json'])).stdout) as { who: string; what: string }[];
  t.ok(audit.some((e) => e.what === 'tenant.create' && e.who === `token:${id}`), JSON.stringify(audit.slice(0, 3)));
});

t.test('silo down stops control with the rest', async (t) => {
  const d = await stack.cli(['down']);
  t.equal(d.code, 0, d.stderr);
  t.match(d.stdout, /stopped control/);
});
