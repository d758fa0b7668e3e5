/**
 * The operator console as an operator uses it: a stack with SILO_CONTROL=on (the real
 * `control` PM2 app, the console mounted on it), a write token from `silo token create`,
 * and headless Chromium (Debian's, driven by playwright-core) that logs in, sees the
 * fleet, opens client1, suspends it and resumes it (each a job that completes, checked
 * through the proxy: 503 then 200 again), backs it up and restores that backup after the
 * confirmation page. Screenshots go to $SILO_CONSOLE_SHOTS (default: a temporary folder,
 * named in a comment); docs/console.png is one of them.
 *
 * The control API listens on a Unix socket only root may open; the browser reaches it
 * through a loopback TCP relay of this file's (a byte pipe, nothing parsed).
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Stack } from '../helpers/stack.js';
import { startStackOnCleanPm2 } from '../helpers/clean-pm2.js';

const CHROMIUM = '/usr/bin/chromium';
const shots = process.env.SILO_CONSOLE_SHOTS ?? mkdtempSync(join(tmpdir(), 'silo-console-shots-'));
mkdirSync(shots, { recursive: true });

// Its PM2 daemon started outside tap's hooks (test/helpers/clean-pm2.ts says why).
const stack: Stack = await startStackOnCleanPm2(t, { proxy: 'nginx', env: { SILO_CONTROL: 'on' } });

const made = await stack.cli(['token', 'create', '--scope', 'write']);
if (made.code !== 0) throw new Error(`token create: ${made.stderr}`);
const token = made.stdout.trim().split('\n').at(-1)!;

const status = await stack.cli(['status', '--json']);
const control = (JSON.parse(status.stdout) as { control?: { socket: string; status: string } }).control;
if (control?.status !== 'online' || !existsSync(control.socket)) {
  for (const f of ['control.out.log', 'control.err.log']) if (existsSync(join(stack.home, 'logs', f))) t.comment(readFileSync(join(stack.home, 'logs', f), 'utf8').slice(-3000));
  throw new Error(`no control socket: ${status.stdout}`);
}

// A loopback relay to the control socket, for the browser.
const relay: Server = createServer((c) => {
  const u = connect(control.socket);
  c.pipe(u).pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', (err) => {
    t.comment(`relay: ${err.message}`);
    c.destroy();
  });
});
await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => relay.close(() => r())));
const port = (relay.address() as { port: number }).port;
const base = `http://127.0.0.1:${port}/console`;

const profile = mkdtempSync(join(tmpdir(), 'silo-console-chromium-'));
const context: BrowserContext = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1100, height: 640 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
t.teardown(async () => {
  await context.close().catch(() => undefined);
  rmSync(profile, { recursive: true, force: true });
});
context.setDefaultTimeout(20_000);
const page: Page = await context.newPage();
const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
t.comment(`screenshots in ${shots}`);

/** Submit an action's form and wait until its job page says done (the page reloads itself). */
async function runAction(t: { comment(m: string): void }, button: string): Promise<string> {
  await Promise.all([page.waitForURL(/\/console\/jobs\/job_/), page.click(button)]);
  await page.waitForSelector('h1 .state-done, h1 .state-failed', { timeout: 120_000 });
  const state = (await page.textContent('h1 .state'))?.trim() ?? '';
  if (state !== 'done') t.comment(`job failed: ${await page.textContent('dd.error').catch(() => '')}`);
  return state;
}

await t.test('a wrong token is refused at the login form', async (t) => {
  const res = await page.goto(`${base}/`);
  t.equal(new URL(page.url()).pathname, '/console/login', 'sent to the login form');
  t.equal(res?.status(), 200);
  await page.fill('#token', 'silo_not-a-token');
  await page.click('button[type=submit]');
  t.match(await page.textContent('.error'), /not valid/);
  await shot('login');
});

await t.test('logging in with a write token shows the fleet', async (t) => {
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'silo_console');
  t.ok(session?.httpOnly, 'an HttpOnly session cookie');
  t.equal(session?.sameSite, 'Strict');
  t.notOk(cookies.some((c) => c.value.includes(token)), 'the token is in no cookie');
  const rows = await page.$$eval('tr[data-tenant]', (trs) => trs.map((tr) => tr.getAttribute('data-tenant')));
  t.same(rows, ['client1', 'client2'], 'the demo tenants');
  t.match(await page.textContent('tr[data-tenant="client1"]'), /online/);
  await shot('fleet');
});

await t.test('suspend, then resume client1: each a job that completes, seen through the proxy', async (t) => {
  await Promise.all([page.waitForURL(`${base}/tenants/client1`), page.click('tr[data-tenant="client1"] a')]);
  t.equal((await page.textContent('#tenant'))?.trim(), 'client1');
  await shot('tenant');
  await page.fill('input[name=message]', 'Back in five minutes');
  t.equal(await runAction(t, 'button[data-action=suspend]'), 'done', 'the suspend job is done');
  await shot('job');
  t.equal((await stack.http('client1.localhost', '/api/tenant')).status, 503, 'the proxy answers client1 503');
  t.equal((await stack.http('client2.localhost', '/api/tenant')).status, 200, 'client2 is untouched');

  await page.goto(`${base}/tenants/client1`);
  t.match(await page.textContent('h1'), /suspended/);
  t.match(await page.textContent('dl.facts'), /Back in five minutes/);
  t.equal(await runAction(t, 'button[data-action=resume]'), 'done', 'the resume job is done');
  t.equal((await stack.http('client1.localhost', '/api/tenant')).status, 200, 'client1 answers again');
});

await t.test('a backup, then its restore after the confirmation page', async (t) => {
  await page.goto(`${base}/tenants/client1`);
  t.equal(await runAction(t, 'button[data-action=backup]'), 'done', 'the backup job is done');
  await page.goto(`${base}/tenants/client1`);
  t.equal(await page.$$eval('table.backups tbody tr', (r) => r.length), 1, 'the tenant page lists it');
  await Promise.all([page.waitForURL(`${base}/tenants/client1/restore`), page.click('button[data-action=restore]')]);
  t.match(await page.textContent('.confirm h1'), /Restore client1\?/, 'a confirmation page first');
  await shot('confirm-restore');
  t.equal(await runAction(t, 'button[data-confirm=restore]'), 'done', 'the restore job is done');
  t.equal((await stack.http('client1.localhost', '/api/tenant')).status, 200, 'client1 answers after the restore');
});

await t.test('the jobs page lists the four jobs, none in progress', async (t) => {
  await page.goto(`${base}/jobs`);
  const kinds = await page.$$eval('table.jobs tr[data-job] td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
  t.equal(kinds.length, 4);
  t.match(await page.textContent('main'), /In progress\s*No jobs\./);
});

await t.test("client1's page lists its jobs, its backup and its audit entries, naming the token", async (t) => {
  await page.goto(`${base}/tenants/client1`);
  t.equal(await page.$$eval('table.jobs tr[data-job]', (r) => r.length), 4, 'its four jobs');
  const audit = await page.$$eval('table.audit tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim())));
  const whats = audit.map((r) => r[2]);
  for (const what of ['tenant.suspend', 'tenant.resume', 'tenant.backup', 'tenant.restore']) t.ok(whats.includes(what), `audited: ${what}`);
  const id = made.stdout.match(/tok_[0-9a-f]+/)?.[0];
  t.ok(id && audit.filter((r) => ['tenant.suspend', 'tenant.resume', 'tenant.backup', 'tenant.restore'].includes(r[2]!)).every((r) => r[1] === `token:${id}`), 'each by the token that acted');
  await shot('tenant-after');
  await page.goto(`${base}/`);
  await shot('fleet-after');
});
