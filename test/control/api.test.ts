/**
 * The control API in-process, on a home without a stack: every refusal is the JSON error
 * shape with its status (no token 401, a revoked one 401, read scope on a write 403, a
 * tenant's token on another tenant 403, a bad name 400, an unknown tenant 404), and the
 * OpenAPI document is a valid OpenAPI 3 document that lists every route.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { loadConfig } from '../../src/common/config.js';
import { buildControlApi } from '../../src/control/api.js';
import { JobStore } from '../../src/control/jobs.js';
import { createToken, revokeToken } from '../../src/control/tokens.js';

const home = mkdtempSync(join(tmpdir(), 'silo-api-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));
const cfg = loadConfig({ SILO_HOME: home });
// Nothing here reaches a job: every request below is refused before one is queued.
const jobs = new JobStore(home, async () => {
  throw new Error('no job should run in this test');
});
const app = await buildControlApi(cfg, {
  jobs,
  // A route a plugin mounts under /v1/ without naming a scope: it needs a token all the same.
  extend: (a) => void a.get('/v1/unscoped', async () => ({ ok: true })),
});
t.teardown(() => app.close());

const write = (await createToken(home, { scope: 'write' })).token;
const read = (await createToken(home, { scope: 'read' })).token;
const acme = (await createToken(home, { scope: 'write', tenant: 'acme' })).token;
const revoked = await createToken(home, { scope: 'write' });
await revokeToken(home, revoked.info.id);

const call = (method: string, url: string, token?: string, payload?: unknown) =>
  app.inject({ method: method as 'GET', url, payload: payload as object, headers: token ? { authorization: `Bearer ${token}` } : {} });

t.test('every refusal is the JSON error shape with its status', async (t) => {
  const cases: [string, string, string | undefined, unknown, number, RegExp][] = [
    ['GET', '/v1/tenants', undefined, undefined, 401, /bearer token is required/],
    ['GET', '/v1/unscoped', undefined, undefined, 401, /bearer token is required/],
    ['GET', '/v1/unscoped', acme, undefined, 403, /acts on every tenant/],
    ['GET', '/v1/tenants', 'silo_' + 'x'.repeat(43), undefined, 401, /not valid/],
    ['POST', '/v1/tenants', revoked.token, { name: 'acme' }, 401, /not valid/],
    ['POST', '/v1/tenants', read, { name: 'acme' }, 403, /read scope/],
    ['DELETE', '/v1/tenants/acme', read, undefined, 403, /read scope/],
    ['POST', '/v1/tenants', acme, { name: 'other' }, 403, /limited to tenant acme, not other/],
    ['GET', '/v1/tenants/other', acme, undefined, 403, /limited to tenant acme/],
    ['POST', '/v1/backups', acme, {}, 403, /acts on every tenant/],
    ['POST', '/v1/tenants', write, { name: 'Not_A_Name' }, 400, /invalid tenant name/],
    ['POST', '/v1/tenants', write, { name: 'www' }, 400, /reserved/],
    ['POST', '/v1/tenants', write, { name: 'acme', rate: 'fast' }, 400, /rate/],
    ['POST', '/v1/tenants', write, { nam: 'acme' }, 400, /name/],
    ['DELETE', '/v1/tenants/nobody', write, undefined, 404, /no tenant named "nobody"/],
    ['GET', '/v1/tenants/nobody', write, undefined, 404, /no tenant named/],
    ['POST', '/v1/tenants/nobody/suspend', write, {}, 404, /no tenant named/],
    ['GET', '/v1/jobs/job_0000', read, undefined, 404, /no job/],
    ['POST', '/v1/tenants/acme/restore', write, { latest: true, from: '/x' }, 400, /exclude each other/],
  ];
  for (const [method, url, token, body, status, message] of cases) {
    const r = await call(method, url, token, body);
    const what = `${method} ${url} ${JSON.stringify(body ?? '')}`;
    t.equal(r.statusCode, status, what);
    const j = r.json() as { statusCode: number; error: string; message: string };
    t.equal(j.statusCode, status, what);
    t.type(j.error, 'string', what);
    t.match(j.message, message, what);
    if (status === 401) t.equal(r.headers['www-authenticate'], 'Bearer', what);
  }
});

t.test('a tenant token lists its own tenant only; the fleet token lists all', async (t) => {
  t.same((await call('GET', '/v1/tenants', acme)).json(), []);
  t.same((await call('GET', '/v1/tenants', read)).json(), []);
  t.same((await call('GET', '/v1/jobs', acme)).json(), []);
});

t.test('the OpenAPI document is valid OpenAPI 3 and lists every route', async (t) => {
  const r = await call('GET', '/v1/openapi.json', read);
  t.equal(r.statusCode, 200);
  const doc = r.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
  t.match(doc.openapi, /^3\./);
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'swagger-parser validates it');
  const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
  const routes = app.controlRoutes.filter((r) => r.url !== '/v1/openapi.json' && r.url !== '/v1/unscoped').map((r) => `${r.method} ${r.url.replace(/:([a-z]+)/gi, '{$1}')}`);
  t.ok(routes.length >= 20, `${routes.length} routes`);
  t.same(routes.filter((r) => !documented.has(r)), [], 'every route is in the document');
  t.equal((await call('GET', '/v1/openapi.json')).statusCode, 401, 'it needs a token like the rest');
});

t.test('SILO_CONTROL_HOST needs SILO_CONTROL=on and a host name', async (t) => {
  t.throws(() => loadConfig({ SILO_HOME: home, SILO_CONTROL_HOST: 'admin.localhost' }), { message: /SILO_CONTROL_HOST needs SILO_CONTROL=on/ });
  t.throws(() => loadConfig({ SILO_HOME: home, SILO_CONTROL: 'on', SILO_CONTROL_HOST: 'not a host' }), { message: /SILO_CONTROL_HOST/ });
  t.equal(loadConfig({ SILO_HOME: home, SILO_CONTROL: 'on', SILO_CONTROL_HOST: 'admin.localhost' }).controlHost, 'admin.localhost');
  t.equal(loadConfig({ SILO_HOME: home }).control, false, 'off by default');
});
