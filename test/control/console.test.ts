/**
 * The operator console rendered in-process: a Fastify instance with the console plugin at
 * /console, over a throwaway $SILO_HOME whose registry, backups and releases are fixture
 * files and its tokens are real ones (nothing runs: no database, no PM2). The jobs the forms start go to a backend of
 * this file that records them; the Chromium test (console-browser.test.ts) drives the
 * real control app. What is checked: login and sessions, scopes, escaping of every
 * tenant-controlled string, confirmation before data loss, the fleet's filter, sort and
 * pages.
 */
import t from 'tap';
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/common/config.js';
import { consolePlugin } from '../../src/control/console/plugin.js';
import type { Caller, ConsoleAction, ConsoleBackend, ConsoleJob } from '../../src/control/console/types.js';
import type { Registry, TenantEntry } from '../../src/registry/registry.js';
import { escapeHtml } from '../../src/control/console/html.js';
import { createSampler } from '../../src/control/console/samples.js';
import { registerRelease } from '../../src/apps/releases.js';
import { createToken, revokeToken, verifyToken } from '../../src/control/tokens.js';

const home = mkdtempSync(join(tmpdir(), 'silo-console-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));
const cfg = loadConfig({ SILO_HOME: home, PATH: process.env.PATH });

const EVIL = `<script>alert(1)</script>"'&`;
const tenant = (over: Partial<TenantEntry> = {}): TenantEntry => ({ server: 'local', port: 0, domains: [], state: 'ready', schemaVersion: 2, createdAt: '2026-12-01T10:00:00.000Z', ...over });
const registry: Registry = {
  version: 1,
  servers: { local: { kind: 'embedded', host: '/tmp', port: 5432 }, eu1: { kind: 'external', host: 'db', port: 5432 } },
  tenants: {
    acme: tenant({ domains: [`polls.acme.example`] }),
    // what a hostile operator input or tenant could put where the console shows it
    globex: tenant({ server: 'eu1', domains: [`x.example"><img src=x onerror=alert(1)>`], suspended: { by: 'operator', since: '2026-12-06T08:00:00.000Z', message: EVIL } }),
    initech: tenant({ state: 'provisioning' }),
  },
};
for (let i = 0; i < 120; i++) registry.tenants[`t${String(i).padStart(3, '0')}`] = tenant();
writeFileSync(join(home, 'registry.json'), JSON.stringify(registry));

// Two backups of acme (manifest entries beside their dumps), one release.
const bdir = join(home, 'backups', 'acme');
mkdirSync(bdir, { recursive: true });
for (const at of ['2026-12-05T03:00:00.000Z', '2026-12-06T03:00:00.000Z']) {
  const file = join(bdir, `acme-${at.replace(/[:.]/g, '-')}.dump`);
  writeFileSync(file, 'dump');
  writeFileSync(file.replace(/\.dump$/, '.json'), JSON.stringify({ tenant: 'acme', file, kind: 'scheduled', server: 'local', schemaVersion: 2, bytes: 4096, sha256: 'x', startedAt: at, finishedAt: at, domains: [] }));
}
const rel = join(home, 'releases', '0123456789abcdef');
mkdirSync(rel, { recursive: true });
writeFileSync(join(rel, 'release.json'), JSON.stringify({ id: '0123456789abcdef', name: `notes${EVIL}`, version: '1.2.0', hash: 'h', source: '/x', entry: '/x', migrationsDir: '/x', latestMigration: 1, createdAt: '2026-12-06T00:00:00.000Z' }));

// Real tokens (src/control/tokens.ts), as `silo token create` makes them.
const TOKENS: Record<string, string> = {};
const IDS: Record<string, string> = {};
for (const [key, opts] of [
  ['tok-read', { scope: 'read' }],
  ['tok-write', { scope: 'write' }],
  ['tok-acme', { scope: 'write', tenant: 'acme' }],
  ['tok-gone', { scope: 'write' }],
] as const) {
  const made = await createToken(home, opts);
  TOKENS[key] = made.token;
  IDS[key] = made.info.id;
}
const started: { action: ConsoleAction; caller: Caller }[] = [];
const jobs: ConsoleJob[] = [];
const backend: ConsoleBackend = {
  verifyToken: (token) => verifyToken(home, token),
  async startJob(action, caller) {
    started.push({ action, caller });
    const job = { id: `job${jobs.length + 1}`, kind: action.action, tenant: action.tenant, state: 'running', steps: ['lock'], createdAt: new Date().toISOString(), by: caller.id };
    jobs.unshift(job);
    return job;
  },
  jobs: () => jobs,
  job: (id) => jobs.find((j) => j.id === id),
  audit: (name) => [{ at: '2026-12-06T08:00:00.000Z', who: 'token w1', what: `suspend ${name}`, result: 'ok' }],
};

async function build(): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(consolePlugin, { prefix: '/console', cfg, backend, sources: { processes: async () => new Map() } });
  await app.ready();
  t.teardown(() => app.close());
  return app;
}
const app = await build();

async function login(key: string): Promise<{ cookie: string; csrf: string }> {
  const token = TOKENS[key]!;
  const res = await app.inject({ method: 'POST', url: '/console/login', payload: new URLSearchParams({ token }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  if (res.statusCode !== 303) throw new Error(`login with ${key}: ${res.statusCode}`);
  const cookie = String(res.headers['set-cookie']).split(';')[0]!;
  const fleet = await app.inject({ url: '/console/', headers: { cookie } });
  const csrf = /name="csrf" value="([^"]+)"/.exec(fleet.body)![1]!;
  return { cookie, csrf };
}
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const post = (url: string, who: { cookie: string }, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload: form(fields), headers: { cookie: who.cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers } });

t.test('without a session every page sends the browser to the login form', async (t) => {
  for (const url of ['/console', '/console/', '/console/tenants/acme', '/console/jobs', '/console/jobs/job1']) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, 303, url);
    t.equal(res.headers.location, '/console/login');
  }
  const res = await app.inject({ method: 'POST', url: '/console/tenants/acme/suspend', payload: 'csrf=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(res.statusCode, 303, 'a POST without a session starts nothing');
  t.equal(started.length, 0);
  const login = await app.inject({ url: '/console/login' });
  t.equal(login.statusCode, 200);
  t.match(login.body, /<input id="token" name="token" type="password"/);
});

t.test('a wrong token is refused; a good one gets an HttpOnly, SameSite=Strict session cookie, never the token', async (t) => {
  const bad = await app.inject({ method: 'POST', url: '/console/login', payload: form({ token: 'nope' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(bad.statusCode, 401);
  t.notOk(bad.headers['set-cookie']);
  const ok = await app.inject({ method: 'POST', url: '/console/login', payload: form({ token: TOKENS['tok-read']! }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(ok.statusCode, 303);
  const cookie = String(ok.headers['set-cookie']);
  t.match(cookie, /^silo_console=[A-Za-z0-9_-]{40,}; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  t.notMatch(cookie, /Secure/, 'not Secure over plain HTTP');
  t.notOk(cookie.includes(TOKENS['tok-read']!), 'the token is not in the cookie');
  const fleet = await app.inject({ url: '/console/', headers: { cookie: cookie.split(';')[0]! } });
  t.notOk(fleet.body.includes(TOKENS['tok-read']!), 'nor in the page');
  t.match(fleet.headers['content-security-policy'], /default-src 'none'/);
});

t.test('a revoked token ends its session at the next request', async (t) => {
  const who = await login('tok-gone');
  t.equal((await app.inject({ url: '/console/', headers: { cookie: who.cookie } })).statusCode, 200);
  await revokeToken(home, IDS['tok-gone']!);
  const res = await app.inject({ url: '/console/', headers: { cookie: who.cookie } });
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, '/console/login');
});

t.test('the fleet lists every tenant with state, release, server, last backup, paged', async (t) => {
  const who = await login('tok-read');
  const res = await app.inject({ url: '/console/', headers: { cookie: who.cookie } });
  t.equal(res.statusCode, 200);
  t.match(res.body, /123 tenants/);
  t.match(res.body, /page 1 of 3/);
  t.equal(res.body.match(/<tr data-tenant=/g)?.length, 50, '50 rows a page by default');
  const acme = /<tr data-tenant="acme">([\s\S]*?)<\/tr>/.exec(res.body)![1]!;
  t.match(acme, /polls\.acme\.example/);
  t.match(acme, /state-stopped/);
  t.match(acme, /datetime="2026-12-06T03:00:00.000Z"/, 'its newest backup');
  t.match(acme, /<svg class="spark"/, 'a chart');
  t.match(res.body, /<tr data-tenant="initech">[\s\S]*?state-provisioning/);
  t.match(res.body, /<tr data-tenant="globex">[\s\S]*?state-suspended[\s\S]*?<td>eu1<\/td>/);
  const next = /<a rel="next" href="([^"]+)"/.exec(res.body)![1]!.replaceAll('&amp;', '&');
  const p2 = await app.inject({ url: next, headers: { cookie: who.cookie } });
  t.match(p2.body, /page 2 of 3/);
});

t.test('filter and sort come from the query string', async (t) => {
  const who = await login('tok-read');
  const get = async (qs: string) => {
    const res = await app.inject({ url: `/console/?${qs}`, headers: { cookie: who.cookie } });
    t.equal(res.statusCode, 200, qs);
    return [...res.body.matchAll(/<tr data-tenant="([^"]+)"/g)].map((m) => m[1]);
  };
  t.same(await get('state=suspended'), ['globex']);
  t.same(await get('server=eu1'), ['globex']);
  t.same(await get('q=acme'), ['acme'], 'by name or domain');
  t.same(await get('q=t11&sort=name&dir=desc'), ['t119', 't118', 't117', 't116', 't115', 't114', 't113', 't112', 't111', 't110']);
  t.same((await get('sort=backup&per=25'))[0], 'acme', 'the tenant with a backup first');
  t.same(await get('page=999&q=acme'), ['acme'], 'a page past the end shows the last');
  t.same((await get('sort=%3Cx%3E&per=7&page=-1')).length, 50, 'nonsense falls back to the defaults');
});

t.test('every tenant-controlled string is escaped', async (t) => {
  const who = await login('tok-write');
  for (const url of ['/console/', '/console/?q=x.example', '/console/tenants/globex', '/console/tenants/acme']) {
    const res = await app.inject({ url, headers: { cookie: who.cookie } });
    t.equal(res.statusCode, 200, url);
    const body = res.body.replace('<script src="/console/console.js" defer></script>', '');
    t.notMatch(body, /<script|<img|onerror=alert\(1\)>/, `${url}: no markup from data (the console's own script aside)`);
  }
  const globex = await app.inject({ url: '/console/tenants/globex', headers: { cookie: who.cookie } });
  t.ok(globex.body.includes(escapeHtml(EVIL)), 'the suspension message is shown, escaped');
  t.ok(globex.body.includes('x.example&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'), 'the domain is shown, escaped');
  const acme = await app.inject({ url: '/console/tenants/acme', headers: { cookie: who.cookie } });
  t.ok(acme.body.includes(`notes${escapeHtml(EVIL)}@1.2.0`), 'a release name is shown, escaped');
  const query = await app.inject({ url: `/console/?q=${encodeURIComponent('"><script>x</script>')}`, headers: { cookie: who.cookie } });
  t.notMatch(query.body, /<script>x/, 'the search box echoes the query escaped');
  const missing = await app.inject({ url: `/console/tenants/${encodeURIComponent('<b>x')}`, headers: { cookie: who.cookie } });
  t.equal(missing.statusCode, 404);
  t.notMatch(missing.body, /<b>x/);
});

t.test('read scope sees the tenant page but no actions, and a posted action is refused', async (t) => {
  const who = await login('tok-read');
  const res = await app.inject({ url: '/console/tenants/acme', headers: { cookie: who.cookie } });
  t.notMatch(res.body, /data-action=/);
  t.match(res.body, /read scope/);
  const before = started.length;
  const post1 = await post('/console/tenants/acme/suspend', who, { csrf: who.csrf });
  t.equal(post1.statusCode, 403);
  t.equal(started.length, before, 'no job started');
});

t.test('a tenant-scoped token sees its tenant only', async (t) => {
  const who = await login('tok-acme');
  const fleet = await app.inject({ url: '/console/', headers: { cookie: who.cookie } });
  t.same([...fleet.body.matchAll(/<tr data-tenant="([^"]+)"/g)].map((m) => m[1]), ['acme']);
  const other = await app.inject({ url: '/console/tenants/globex', headers: { cookie: who.cookie } });
  t.equal(other.statusCode, 404, 'another tenant is not found');
  const before = started.length;
  t.equal((await post('/console/tenants/globex/suspend', who, { csrf: who.csrf })).statusCode, 404);
  t.equal(started.length, before);
  const jobsPage = await app.inject({ url: '/console/jobs', headers: { cookie: who.cookie } });
  t.notMatch(jobsPage.body, /globex/, "another tenant's jobs are not listed");
});

t.test('suspend with a write token starts the job and shows it', async (t) => {
  const who = await login('tok-write');
  const page = await app.inject({ url: '/console/tenants/acme', headers: { cookie: who.cookie } });
  for (const a of ['suspend', 'backup', 'restore', 'deploy', 'remove']) t.match(page.body, new RegExp(`data-action="${a}"`), `offers ${a}`);
  t.match(page.body, /Audit[\s\S]*suspend acme/, 'its audit entries');
  const res = await post('/console/tenants/acme/suspend', who, { csrf: who.csrf, message: 'Back at 5' });
  t.equal(res.statusCode, 303);
  const job = started.at(-1)!;
  t.same(job.action, { action: 'suspend', tenant: 'acme', message: 'Back at 5' });
  t.equal(job.caller.id, IDS['tok-write']);
  t.match(res.headers.location, /^\/console\/jobs\/job\d+$/);
  const fleet = await app.inject({ url: '/console/', headers: { cookie: who.cookie } });
  t.match(fleet.body, /<p class="notice" id="jobs-running"><a href="\/console\/jobs">\d+ jobs? in progress<\/a>/, 'the fleet says jobs are in progress');
  const jobPage = await app.inject({ url: String(res.headers.location), headers: { cookie: who.cookie } });
  t.match(jobPage.body, /<meta http-equiv="refresh" content="2">/, 'a running job reloads itself');
  t.match(jobPage.body, /state-running/);
});

t.test('restore, deploy and remove ask first; only the confirmed post starts the job', async (t) => {
  const who = await login('tok-write');
  const cases: [string, Record<string, string>, ConsoleAction][] = [
    ['restore', { backup: 'acme-2026-12-05T03-00-00-000Z.dump' }, { action: 'restore', tenant: 'acme', backup: join(bdir, 'acme-2026-12-05T03-00-00-000Z.dump') }],
    ['deploy', { release: '0123456789abcdef' }, { action: 'deploy', tenant: 'acme', release: '0123456789abcdef' }],
    ['remove', {}, { action: 'remove', tenant: 'acme' }],
  ];
  for (const [act, fields, expected] of cases) {
    const before = started.length;
    const ask = await post(`/console/tenants/acme/${act}`, who, { csrf: who.csrf, ...fields });
    t.equal(ask.statusCode, 200, `${act}: a confirmation page`);
    t.match(ask.body, new RegExp(`data-confirm="${act}"`));
    t.match(ask.body, /name="confirm" value="yes"/);
    t.equal(started.length, before, `${act}: nothing started yet`);
    const confirm = { csrf: who.csrf, ...fields, confirm: 'yes', ...(act === 'remove' ? { typed: 'acme' } : {}) };
    if (act === 'remove') {
      const wrong = await post(`/console/tenants/acme/remove`, who, { ...confirm, typed: 'acm' });
      t.equal(wrong.statusCode, 200, 'remove with the name mistyped asks again');
      t.equal(started.length, before);
    }
    const go = await post(`/console/tenants/acme/${act}`, who, confirm);
    t.equal(go.statusCode, 303, `${act}: confirmed`);
    t.same(started.at(-1)!.action, expected);
  }
  const unlisted = await post('/console/tenants/acme/restore', who, { csrf: who.csrf, backup: '../../registry.json', confirm: 'yes' });
  t.equal(unlisted.statusCode, 400, 'only a listed backup can be restored');
  const noRelease = await post('/console/tenants/acme/deploy', who, { csrf: who.csrf, release: '/tmp/evil', confirm: 'yes' });
  t.equal(noRelease.statusCode, 400, 'only a listed release can be deployed');
});

t.test('a release id already in the store is that release (what the console deploys)', async (t) => {
  const r = await registerRelease(cfg, '0123456789abcdef');
  t.equal(r.id, '0123456789abcdef');
  t.equal(r.version, '1.2.0');
});

t.test('a form without the session CSRF token, or from another origin, starts nothing', async (t) => {
  const who = await login('tok-write');
  const before = started.length;
  t.equal((await post('/console/tenants/acme/backup', who, {})).statusCode, 403, 'no token');
  t.equal((await post('/console/tenants/acme/backup', who, { csrf: 'guess' })).statusCode, 403, 'a wrong token');
  const other = await login('tok-write');
  t.equal((await post('/console/tenants/acme/backup', who, { csrf: other.csrf })).statusCode, 403, "another session's token");
  t.equal((await post('/console/tenants/acme/backup', who, { csrf: who.csrf }, { origin: 'http://evil.example', host: 'localhost:80' })).statusCode, 403, 'another origin');
  t.equal(started.length, before);
  t.equal((await post('/console/tenants/acme/backup', who, { csrf: who.csrf }, { origin: 'http://localhost:80', host: 'localhost:80' })).statusCode, 303, 'same origin works');
});

t.test('log out ends the session', async (t) => {
  const who = await login('tok-write');
  const out = await post('/console/logout', who, { csrf: who.csrf });
  t.equal(out.statusCode, 303);
  t.match(String(out.headers['set-cookie']), /Max-Age=0/);
  t.equal((await app.inject({ url: '/console/', headers: { cookie: who.cookie } })).statusCode, 303);
});

t.test('an error from the job backend is shown on the page, escaped', async (t) => {
  const who = await login('tok-write');
  const orig = backend.startJob;
  backend.startJob = async () => {
    throw Object.assign(new Error(`tenant "acme" is busy <b>now</b>`), { statusCode: 409 });
  };
  t.teardown(() => (backend.startJob = orig));
  const res = await post('/console/tenants/acme/backup', who, { csrf: who.csrf });
  t.equal(res.statusCode, 409);
  t.match(res.body, /busy &lt;b&gt;now&lt;\/b&gt;/);
});

t.test('the sampler turns request counters into requests per minute, a restart counting from zero', async (t) => {
  const readings = [
    new Map([['acme', { requests: 100, memoryMB: 60 }]]),
    new Map([['acme', { requests: 220, memoryMB: 64 }]]),
    new Map([['acme', { requests: 30, memoryMB: 50 }]]),
  ];
  let i = 0;
  const sampler = createSampler({ everyMs: 60_000, keep: 2, read: async () => readings[i++]! });
  await sampler.sample(0);
  t.equal(sampler.rpm('acme'), undefined, 'one sample: no rate yet');
  await sampler.sample(60_000);
  t.equal(sampler.rpm('acme'), 120);
  await sampler.sample(90_000);
  t.equal(sampler.rpm('acme'), 60, 'the worker restarted: 30 requests in 30 s');
  t.same(sampler.rpmSeries('acme'), [120, 60]);
  t.same(sampler.memorySeries('acme'), [64, 50], 'keeps the last `keep` samples');
});
