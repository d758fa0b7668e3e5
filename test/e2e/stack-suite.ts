/**
 * The end-to-end suite through the proxy, shared by the nginx and Caddy runs: every
 * tenant through its own subdomain, unknown hosts, hot create and remove under load,
 * status, and a `down` that leaves no process behind.
 */
import type { Test } from 'tap';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, processesOf, type Stack } from '../helpers/stack.js';
import { runCli } from '../helpers/silo-home.js';
import { startLoad } from '../helpers/load.js';
import { pollsHttpSuite } from '../app/http-suite.js';
import { proxyClient } from './proxy-client.js';
import { pm2Cli, waitUntil } from '../helpers/resilience.js';
import { forgetHome } from '../../src/isolation/cleanup.js';

export async function stackSuite(t: Test, proxy: 'nginx' | 'caddy'): Promise<void> {
  const stack: Stack = await startStack(t, { proxy });

  t.test('silo up prints the URL of each demo tenant', async (t) => {
    t.match(stack.up.stdout, new RegExp(`http://client1\\.localhost:${stack.httpPort}/`));
    t.match(stack.up.stdout, new RegExp(`http://client2\\.localhost:${stack.httpPort}/`));
  });

  await t.test('each demo tenant answers through its subdomain with its own data', async (t) => {
    const seen = new Map<string, string[]>();
    for (const tenant of ['client1', 'client2']) {
      const who = await stack.http(`${tenant}.localhost`, '/api/tenant');
      t.same(who.json(), { tenant });
      const polls = await stack.http(`${tenant}.localhost:${stack.httpPort}`, '/api/polls');
      t.equal(polls.status, 200);
      seen.set(tenant, polls.json().map((p: { question: string }) => p.question));
      t.ok(seen.get(tenant)!.length > 0, `${tenant} has demo polls`);
      const page = await stack.http(`${tenant}.localhost`, '/');
      t.match(page.text, `<h1 id="tenant">${tenant}</h1>`);
    }
    const overlap = seen.get('client1')!.filter((q) => seen.get('client2')!.includes(q));
    t.same(overlap, [], 'no poll of one demo tenant appears in the other');
  });

  await t.test('an unknown Host gets 404 from the proxy itself', async (t) => {
    for (const host of ['nobody.localhost', 'localhost', 'client1.localhost.evil', '127.0.0.1']) {
      const res = await stack.http(host, '/api/polls');
      t.equal(res.status, 404, host);
      t.same(res.json(), { statusCode: 404, error: 'Not Found', message: 'no tenant serves this host' }, host);
    }
  });

  await t.test('hot create and remove under steady load on client1 fail none of its requests', async (t) => {
    const load = startLoad({
      port: stack.httpPort,
      host: 'client1.localhost',
      path: '/api/tenant',
      check: (_s, body) => (JSON.parse(body).tenant === 'client1' ? undefined : `wrong tenant: ${body}`),
    });
    const created = await stack.cli(['tenant', 'create', 'third']);
    t.equal(created.code, 0, created.stderr);
    t.match(created.stdout, new RegExp(`created tenant third on server local: live at http://third\\.localhost:${stack.httpPort}/`));
    t.same((await stack.http('third.localhost', '/api/tenant')).json(), { tenant: 'third' });

    await t.test('the polls suite passes for the new tenant through the proxy', (t) =>
      pollsHttpSuite(t, { client: proxyClient(stack.httpPort, 'third.localhost'), tenant: 'third', foreignHostStatus: 404 }),
    );

    const removed = await stack.cli(['tenant', 'remove', 'third', '--yes']);
    t.equal(removed.code, 0, removed.stderr);
    t.equal((await stack.http('third.localhost', '/api/tenant')).status, 404, 'its host answers 404 at once');
    const report = await load.stop();
    t.comment(`client1 under load: ${report.sent} requests, ${report.failed} failed, ${report.wrong} wrong-tenant, ${report.retried} retried on a closed keep-alive connection`);
    t.ok(report.sent > 50, 'the load actually ran');
    t.equal(report.failed, 0, `no failed request: ${report.errors.join('; ')}`);
    t.equal(report.wrong, 0);
  });

  await t.test('status reports every tenant online and no password', async (t) => {
    const r = await stack.cli(['status', '--json']);
    t.equal(r.code, 0);
    const s = JSON.parse(r.stdout);
    t.equal(s.up, true);
    t.match(s.proxy, { kind: proxy, status: 'online' });
    t.match(s.servers, [{ name: 'local', status: 'online' }]);
    t.same(s.tenants.map((x: { name: string; worker: string }) => [x.name, x.worker]), [['client1', 'online'], ['client2', 'online']]);
    for (const tenant of ['client1', 'client2']) {
      const pw = readFileSync(join(stack.home, 'secrets', 'tenants', `${tenant}.password`), 'utf8').trim();
      t.notMatch(r.stdout, pw);
    }
  });

  await t.test('a second up says so in one line and changes nothing', async (t) => {
    const again = await stack.cli(['up']);
    t.equal(again.code, 0);
    t.match(again.stdout, /^the stack is already up:\n/);
  });

  await t.test('up on a port that is taken is one clear line', async (t) => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const home = mkdtempSync(join(tmpdir(), 'silo-busy-'));
    t.teardown(() => {
      blocker.close();
      rmSync(home, { recursive: true, force: true });
      forgetHome(home); // under root, the release check's user of this home
    });
    const r = await runCli({ ...stack.env, SILO_HOME: home, PM2_HOME: join(home, 'pm2'), SILO_HTTP_PORT: String(port) }, ['up']);
    t.equal(r.code, 1);
    t.equal(r.stderr, `silo: port ${port} on 127.0.0.1 is already in use: stop what holds it, or set SILO_HTTP_PORT\n`);
    t.same(processesOf(home), [], 'it started nothing');
  });

  await t.test('down stops every process; pm2 start ecosystem.config.js brings the same stack back', async (t) => {
    const down = await stack.cli(['down']);
    t.equal(down.code, 0, down.stderr);
    t.same(processesOf(stack.home), [], 'no worker, proxy, postgres or PM2 daemon left');
    t.equal((await stack.http('client1.localhost', '/api/tenant').catch((e: Error) => ({ status: e.message }))).status, 'connect ECONNREFUSED 127.0.0.1:' + stack.httpPort);

    const pm2 = await pm2Cli(stack, ['start', 'ecosystem.config.js']);
    t.equal(pm2.code, 0, pm2.stderr);
    await waitUntil('client2 through the proxy', 30_000, async () => (await stack.http('client2.localhost', '/api/tenant')).status === 200, 200);
    t.same((await stack.http('client1.localhost', '/api/tenant')).json(), { tenant: 'client1' });
    const again = await stack.cli(['down']);
    t.equal(again.code, 0);
    t.same(processesOf(stack.home), [], 'down stops a stack PM2 started from the ecosystem file');
  });
}
