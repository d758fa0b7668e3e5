/**
 * The demo tenants as a person sees them: headless Chromium (Debian's, driven by
 * playwright-core) opens client1 and client2 through nginx by their subdomains, votes
 * and adds a poll through the plain HTML forms, and the JSON API confirms each write
 * landed in that tenant's database only. With SILO_BROWSER_TLS=1 (browser-https.test.ts)
 * the same over HTTPS: SILO_TLS=on, and Chromium trusts silo's local CA through an NSS
 * database of this run's own (never "ignore certificate errors").
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { chromium, type BrowserContext, type Page, type Response } from 'playwright-core';
import type { Stack } from '../helpers/stack.js';
import { startStackOnCleanPm2 } from '../helpers/clean-pm2.js';
import { freePort } from '../../src/common/ports.js';
import { httpsGet } from '../helpers/https.js';

const tls = process.env.SILO_BROWSER_TLS === '1';
const httpsPort = tls ? await freePort() : 0;

interface ApiPoll {
  id: number;
  question: string;
  choices: { id: number; text: string; votes: number }[];
}

const CHROMIUM = '/usr/bin/chromium';
const TENANTS = ['client1', 'client2'] as const;

const started = Date.now();

// Its PM2 daemon started outside tap's hooks (test/helpers/clean-pm2.ts says why).
const stack: Stack = await startStackOnCleanPm2(t, { proxy: 'nginx', env: tls ? { SILO_TLS: 'on', SILO_HTTPS_PORT: String(httpsPort) } : {} });
t.comment(`stack up in ${Date.now() - started} ms`);

// A fresh profile for this run only; Chromium resolves *.localhost to loopback itself,
// the resolver rule makes sure no name ever leaves the machine.
const profile = mkdtempSync(join(tmpdir(), 'silo-chromium-'));
// Over HTTPS: Chromium reads the authorities it trusts from $HOME/.pki/nssdb; this run's
// own HOME holds one with silo's local CA alone added.
const browserHome = mkdtempSync(join(tmpdir(), 'silo-chromium-home-'));
const caFile = join(stack.home, 'tls', 'ca.crt');
if (tls) {
  const nssdb = join(browserHome, '.pki', 'nssdb');
  spawnSync('mkdir', ['-p', nssdb]);
  for (const args of [['-N', '--empty-password'], ['-A', '-t', 'C,,', '-n', 'silo local CA', '-i', caFile]]) {
    const r = spawnSync('certutil', ['-d', `sql:${nssdb}`, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`certutil ${args[0]}: ${r.stderr}`);
  }
}
const context: BrowserContext = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  ...(tls ? { env: { ...process.env, HOME: browserHome } } : {}),
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-quic',
    '--no-first-run',
    '--disable-sync',
    '--host-resolver-rules=MAP *.localhost 127.0.0.1',
  ],
});
t.teardown(async () => {
  await context.close().catch(() => undefined);
  rmSync(profile, { recursive: true, force: true });
  rmSync(browserHome, { recursive: true, force: true });
});
context.setDefaultTimeout(15_000);

// Every request the browser makes must go to the stack's own port on a tenant host.
const foreign: string[] = [];
context.on('request', (req) => {
  const u = new URL(req.url());
  const [protocol, port] = tls ? ['https:', httpsPort] : ['http:', stack.httpPort];
  if (!(u.protocol === protocol && u.port === String(port) && u.hostname.endsWith('.localhost'))) foreign.push(req.url());
});

const base = (tenant: string) => (tls ? `https://${tenant}.localhost:${httpsPort}/` : `http://${tenant}.localhost:${stack.httpPort}/`);

async function apiPolls(tenant: string): Promise<ApiPoll[]> {
  const res = tls ? await httpsGet(httpsPort, `${tenant}.localhost`, '/api/polls', readFileSync(caFile, 'utf8')) : await stack.http(`${tenant}.localhost`, '/api/polls');
  if (res.status !== 200) throw new Error(`GET /api/polls on ${tenant}: HTTP ${res.status} ${res.text}`);
  return JSON.parse(res.text) as ApiPoll[];
}

/** What the page shows: each poll section with its question and per-choice counts. */
async function pagePolls(page: Page): Promise<ApiPoll[]> {
  return page.$$eval('section.poll[data-poll-id]', (sections) =>
    sections.map((s) => ({
      id: Number(s.getAttribute('data-poll-id')),
      question: s.querySelector('h2.question')?.textContent?.trim() ?? '',
      choices: [...s.querySelectorAll('ul.choices li')].map((li) => ({
        id: Number(li.querySelector('span.votes')?.getAttribute('data-choice-id')),
        text: li.querySelector('span.text')?.textContent?.trim() ?? '',
        votes: Number(li.querySelector('span.votes')?.textContent?.trim()),
      })),
    })),
  );
}

const shape = (polls: ApiPoll[]) => polls.map((p) => ({ id: p.id, question: p.question, choices: p.choices }));

/** Submit a form and wait for the page the 303 redirect lands on. */
async function submitAndFollow(page: Page, button: string, tenant: string): Promise<Response> {
  const landed = page.waitForResponse(
    (r) => r.request().method() === 'GET' && r.url() === base(tenant) && r.request().redirectedFrom()?.method() === 'POST',
  );
  await page.click(button);
  const res = await landed;
  await page.waitForLoadState('load');
  return res;
}

const pages = new Map<string, Page>();
for (const tenant of TENANTS) pages.set(tenant, await context.newPage());

await t.test('each tenant page shows its own name and exactly its own polls', async (t) => {
  const seen = new Map<string, string[]>();
  for (const tenant of TENANTS) {
    const page = pages.get(tenant)!;
    const res = await page.goto(base(tenant));
    t.equal(res?.status(), 200, `${tenant}: GET / is 200`);
    if (tls) {
      const sec = await res!.securityDetails();
      t.match(sec?.issuer ?? '', /^silo local CA/, `${tenant}: a certificate from silo's local CA, trusted by the browser (${sec?.protocol})`);
      t.equal(await page.evaluate(() => window.isSecureContext), true, `${tenant}: a secure context`);
    }
    t.match(res?.headers()['content-type'] ?? '', /^text\/html/, `${tenant}: an HTML page`);
    t.equal((await page.textContent('h1#tenant'))?.trim(), tenant, `${tenant}: h1#tenant names it`);
    const shown = await pagePolls(page);
    const api = await apiPolls(tenant);
    t.ok(api.length > 0, `${tenant} has demo polls`);
    t.same(shown, shape(api), `${tenant}: the page lists the polls, choices and counts of its own /api/polls`);
    seen.set(tenant, shown.map((p) => p.question));
  }
  const [a, b] = TENANTS.map((n) => seen.get(n)!);
  t.same(a!.filter((q) => b!.includes(q)), [], 'no question of one tenant appears on the other');
});

await t.test('a vote through the HTML form on client1 counts on client1 only', async (t) => {
  const page = pages.get('client1')!;
  await page.goto(base('client1'));
  const client2Before = await apiPolls('client2');
  const [poll] = await apiPolls('client1');
  const choice = poll!.choices[1] ?? poll!.choices[0]!;
  const section = `section.poll[data-poll-id="${poll!.id}"]`;
  const counter = `${section} span.votes[data-choice-id="${choice.id}"]`;
  t.equal(Number(await page.textContent(counter)), choice.votes, 'the page shows the current count');

  await page.check(`${section} input[type=radio][name=choiceId][value="${choice.id}"]`);
  await page.fill(`${section} input[name=voter]`, 'Ada from the browser test');
  const landed = await submitAndFollow(page, `${section} button.vote`, 'client1');
  t.equal(landed.status(), 200, 'the form post redirects back to the polls page');
  t.equal(landed.request().redirectedFrom()?.url(), `${base('client1')}polls/${poll!.id}/vote`, 'the vote was posted to its poll');
  t.equal(new URL(page.url()).pathname, '/', 'the browser is back on /');

  t.equal(Number(await page.textContent(counter)), choice.votes + 1, 'the count went up by one on the page');
  const after = (await apiPolls('client1')).find((p) => p.id === poll!.id)!;
  t.equal(after.choices.find((c) => c.id === choice.id)!.votes, choice.votes + 1, 'client1 /api/polls has the vote');
  for (const c of after.choices.filter((c) => c.id !== choice.id)) {
    t.equal(c.votes, poll!.choices.find((p) => p.id === c.id)!.votes, `choice ${c.id} unchanged`);
  }
  t.same(await apiPolls('client2'), client2Before, "client2's polls and counts are unchanged");

  // client2's page, reloaded, still shows its own unchanged counts.
  const other = pages.get('client2')!;
  await other.reload();
  t.same(await pagePolls(other), shape(client2Before), "client2's page is unchanged");
});

await t.test('a poll added through the HTML form on client2 is listed on client2 only', async (t) => {
  const page = pages.get('client2')!;
  await page.goto(base('client2'));
  const question = `Browser-made poll ${Date.now()}?`;
  const client1Before = await apiPolls('client1');

  await page.fill('#new-poll input[name=question]', question);
  await page.fill('#new-poll textarea[name=choices]', 'Mornings\n\nEvenings\n');
  const landed = await submitAndFollow(page, '#new-poll button.create', 'client2');
  t.equal(landed.status(), 200, 'the form post redirects back to the polls page');
  t.equal(landed.request().redirectedFrom()?.url(), `${base('client2')}polls`, 'the poll was posted to /polls');

  const shown = (await pagePolls(page)).find((p) => p.question === question);
  t.ok(shown, 'client2 lists the new poll');
  t.same(shown?.choices.map((c) => [c.text, c.votes]), [['Mornings', 0], ['Evenings', 0]], 'with its two choices at zero (blank line ignored)');
  const api2 = (await apiPolls('client2')).find((p) => p.question === question);
  t.ok(api2, 'client2 /api/polls has it');
  t.equal(api2?.id, shown?.id, 'same id on the page and in the API');

  t.same(await apiPolls('client1'), client1Before, 'client1 /api/polls is unchanged');
  const other = pages.get('client1')!;
  await other.goto(base('client1'));
  t.equal((await other.textContent('h1#tenant'))?.trim(), 'client1');
  t.notOk((await pagePolls(other)).some((p) => p.question === question), "client1's page does not list it");
  t.notOk((await other.content()).includes(question), "the question appears nowhere in client1's HTML");
});

t.test('the browser only ever talked to the stack', async (t) => {
  t.same(foreign, [], 'no request left <tenant>.localhost:<stack port>');
  t.comment(`browser test took ${Date.now() - started} ms including stack start`);
});
