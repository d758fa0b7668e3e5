/**
 * The console as the control app mounts it (mounts.ts), in-process on a home without a
 * stack: a form goes through the API's own submitJob into a real JobStore whose jobs run
 * the real operations (suspend and resume need no database: with the stack down they
 * record the suspension and render the proxy's files). What it shows: a write token's
 * suspend becomes a job that completes, recorded in the registry and in the audit log,
 * which the tenant page then lists; a read token's post is refused by the same rule as the
 * API's, and no job is queued.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const home = mkdtempSync(join(tmpdir(), 'silo-console-control-'));
// Under root, rendering the proxy's files makes the proxy's Unix user and the run folder:
// removed with the home, as a test stack's are.
t.teardown(() => {
  forgetHome(home);
  rmSync(home, { recursive: true, force: true });
});
// No PM2 daemon is ever asked for here (none runs under this PM2_HOME, and none is started to ask).
process.env.PM2_HOME = join(home, 'pm2');
const { loadConfig } = await import('../../src/common/config.js');
const { buildControlApi } = await import('../../src/control/api.js');
const { JobStore } = await import('../../src/control/jobs.js');
const { OPERATIONS } = await import('../../src/control/operations.js');
const { mountExtras } = await import('../../src/control/mounts.js');
const { createToken } = await import('../../src/control/tokens.js');
const { readRegistry } = await import('../../src/registry/registry.js');
const { forgetHome } = await import('../../src/isolation/cleanup.js');

const cfg = loadConfig({ SILO_HOME: home, PATH: process.env.PATH });
writeFileSync(
  join(home, 'registry.json'),
  JSON.stringify({
    version: 1,
    servers: { local: { kind: 'embedded', host: join(home, 'run'), port: 5432 } },
    tenants: { acme: { server: 'local', port: 21000, domains: [], state: 'ready', schemaVersion: 2, createdAt: '2026-12-01T10:00:00.000Z' } },
  }),
);
// The runner control-main.ts gives its JobStore: the operation, as the token that asked.
const jobs = new JobStore(cfg.home, async (job) => OPERATIONS[job.operation]!.run(job.token ? { ...cfg, actor: `token:${job.token}` } : cfg, job.params, job.attempts));
const app = await buildControlApi(cfg, { jobs, extend: (a) => mountExtras(a, cfg, jobs) });
t.teardown(async () => {
  await jobs.whenIdle();
  await app.close();
});

const write = await createToken(home, { scope: 'write' });
const read = await createToken(home, { scope: 'read' });

async function login(token: string) {
  const res = await app.inject({ method: 'POST', url: '/console/login', payload: `token=${encodeURIComponent(token)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const cookie = String(res.headers['set-cookie']).split(';')[0]!;
  const page = await app.inject({ url: '/console/tenants/acme', headers: { cookie } });
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page.body)![1]! };
}
const post = (who: { cookie: string; csrf: string }, url: string, fields: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload: new URLSearchParams({ csrf: who.csrf, ...fields }).toString(), headers: { cookie: who.cookie, 'content-type': 'application/x-www-form-urlencoded' } });

t.test('a suspend from the console is a job of the API that completes, and is audited', async (t) => {
  const who = await login(write.token);
  const res = await post(who, '/console/tenants/acme/suspend', { message: 'Back at five' });
  t.equal(res.statusCode, 303);
  const id = /\/console\/jobs\/(job_[0-9a-f]+)$/.exec(String(res.headers.location))?.[1];
  t.ok(id, 'sent to its job page');
  await jobs.whenIdle();
  const api = await app.inject({ url: `/v1/jobs/${id}`, headers: { authorization: `Bearer ${write.token}` } });
  t.match(api.json(), { operation: 'tenant.suspend', tenant: 'acme', state: 'done', token: write.info.id }, 'the API sees the same job, done');
  t.match(readRegistry(join(home, 'registry.json')).tenants.acme!.suspended, { by: 'operator', message: 'Back at five' });
  const job = await app.inject({ url: `/console/jobs/${id}`, headers: { cookie: who.cookie } });
  t.match(job.body, /state-done/);
  t.notMatch(job.body, /http-equiv="refresh"/, 'a finished job does not reload');
  const page = await app.inject({ url: '/console/tenants/acme', headers: { cookie: who.cookie } });
  t.match(page.body, /<h1><span id="tenant">acme<\/span> <span class="state state-suspended">/);
  t.match(page.body, new RegExp(`<td>token:${write.info.id}</td><td>tenant.suspend</td>`), 'its audit entry names the token');
  t.match(page.body, /data-action="resume"/, 'resume is offered now');

  const back = await post(who, '/console/tenants/acme/resume');
  t.equal(back.statusCode, 303);
  await jobs.whenIdle();
  t.notOk(readRegistry(join(home, 'registry.json')).tenants.acme!.suspended, 'resumed');
});

t.test("a read token's form is refused and queues nothing", async (t) => {
  const who = await login(read.token);
  const before = jobs.list().length;
  const res = await post(who, '/console/tenants/acme/backup');
  t.equal(res.statusCode, 403);
  t.equal(jobs.list().length, before);
});

t.test('the API and /metrics on the same app are unaffected by the console', async (t) => {
  t.equal((await app.inject({ url: '/v1/tenants' })).statusCode, 401, 'the API still wants a bearer token');
  const cookie = (await login(write.token)).cookie;
  t.equal((await app.inject({ url: '/v1/tenants', headers: { cookie } })).statusCode, 401, 'a console session is not an API token');
  const doc = (await app.inject({ url: '/v1/openapi.json', headers: { authorization: `Bearer ${read.token}` } })).json() as { paths: Record<string, unknown> };
  t.notOk(Object.keys(doc.paths).some((p) => p.startsWith('/console')), 'the pages are not in the OpenAPI document');
});
