/**
 * `silo tenant domain add | remove | list` on a running stack, through nginx and Caddy, as
 * an operator would: a domain added to one tenant while another tenant is under load
 * (its load fails nothing), served at once, refused to a second tenant, listed, and
 * removed (404 again). Bad input is one line and a non-zero exit.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { childPids } from '../../src/common/processes.js';
import { startStack } from '../helpers/stack.js';
import { startLoad } from '../helpers/load.js';

for (const proxy of ['nginx', 'caddy'] as const) {
  t.test(`custom domains through ${proxy}`, async (t) => {
    const stack = await startStack(t, { proxy });
    // nginx: the same worker processes before and after means it was not reloaded.
    const nginxWorkers = () => (proxy === 'nginx' ? childPids(Number(readFileSync(join(stack.home, 'proxy', 'nginx', 'nginx.pid'), 'utf8').trim())).sort() : []);

    t.test('a domain added to one tenant under load on another: served at once, the other fails nothing', async (t) => {
      const workers = nginxWorkers();
      const load = startLoad({ port: stack.httpPort, host: 'client2.localhost', path: '/api/polls' }, 4);
      const add = await stack.cli(['tenant', 'domain', 'add', 'client1', 'Shop.Example.COM']);
      const added = await stack.http('shop.example.com', '/api/tenant');
      const report = await load.stop();
      t.equal(add.code, 0, add.stderr);
      t.match(add.stdout, 'added shop.example.com to tenant client1');
      t.equal(added.status, 200);
      t.same(added.json(), { tenant: 'client1' });
      t.comment(`# figures: scenario=domain-add proxy=${proxy} sent=${report.sent} failed=${report.failed} retried=${report.retried}`);
      t.ok(report.sent > 0);
      t.equal(report.failed, 0, report.errors.join('; '));
      t.same(nginxWorkers(), workers, 'nginx was not reloaded');
      // Running it again is a quiet success.
      const again = await stack.cli(['tenant', 'domain', 'add', 'client1', 'shop.example.com']);
      t.equal(again.code, 0, again.stderr);
      t.match(again.stdout, 'already has shop.example.com');
    });

    t.test('a domain belongs to one tenant at most; bad input is one line', async (t) => {
      for (const [args, message] of [
        [['add', 'client2', 'shop.example.com'], 'domain "shop.example.com" already belongs to tenant "client1"'],
        [['add', 'client2', 'not a host'], 'invalid domain "not a host"'],
        [['add', 'client2', '127.0.0.1'], 'invalid domain "127.0.0.1"'],
        [['add', 'client2', 'client1.localhost'], 'names under localhost are the tenants\' own'],
        [['add', 'nobody', 'x.example.com'], 'no tenant named "nobody"'],
        [['remove', 'client2', 'shop.example.com'], 'belongs to tenant "client1", not "client2"'],
        [['remove', 'client2', 'other.example.com'], 'tenant "client2" has no domain "other.example.com"'],
      ] as const) {
        const r = await stack.cli(['tenant', 'domain', ...args]);
        t.not(r.code, 0, args.join(' '));
        t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr.trim()}`);
        t.match(r.stderr, message);
      }
      t.same((await stack.http('shop.example.com', '/api/tenant')).json(), { tenant: 'client1' }, 'still client1');
    });

    t.test('domain list shows own and custom hosts', async (t) => {
      const r = await stack.cli(['tenant', 'domain', 'list', '--json']);
      t.equal(r.code, 0, r.stderr);
      t.same(
        JSON.parse(r.stdout).map((d: { tenant: string; host: string; kind: string }) => [d.tenant, d.host, d.kind]),
        [
          ['client1', 'client1.localhost', 'own'],
          ['client1', 'shop.example.com', 'custom'],
          ['client2', 'client2.localhost', 'own'],
        ],
      );
      const text = await stack.cli(['tenant', 'domain', 'list', 'client1']);
      t.match(text.stdout, /client1\s+shop\.example\.com\s+custom/);
    });

    t.test('a removed domain is 404 at the proxy, under load on the other tenant', async (t) => {
      const workers = nginxWorkers();
      const load = startLoad({ port: stack.httpPort, host: 'client2.localhost', path: '/api/polls' }, 4);
      const r = await stack.cli(['tenant', 'domain', 'remove', 'client1', 'shop.example.com']);
      const report = await load.stop();
      t.equal(r.code, 0, r.stderr);
      t.equal((await stack.http('shop.example.com', '/api/tenant')).status, 404);
      t.equal((await stack.http('client1.localhost', '/api/tenant')).status, 200);
      t.comment(`# figures: scenario=domain-remove proxy=${proxy} sent=${report.sent} failed=${report.failed} retried=${report.retried}`);
      t.equal(report.failed, 0, report.errors.join('; '));
      t.same(nginxWorkers(), workers, 'nginx was not reloaded');
    });
  });
}
