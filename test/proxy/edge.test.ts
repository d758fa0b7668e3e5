/**
 * The edge's feed (src/proxy/edge.ts), in process: what the control host's files say is
 * what the edge writes (routes, domain links, suspended pages, config), an update changes
 * only what changed and reports a reload only for the config, the token check takes the
 * exact token only, and the waker's feed port (src/hibernate/waker-http.ts) answers 304
 * while the agent has the feed already. The edge as a Swarm service is
 * test/hosts/swarm.test.ts.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/common/config.js';
import { listenOn } from '../../src/common/listen.js';
import { createWaker } from '../../src/hibernate/waker.js';
import { createEdgeServer } from '../../src/hibernate/waker-http.js';
import { applyEdgeFeed, bearerMatches, EDGE_FEED_PATH, ensureEdgeToken, readEdgeFeed } from '../../src/proxy/edge.js';

t.test('the edge writes what the control host has, and reloads for the config only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-edge-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ctl = { configDir: join(dir, 'ctl', 'edge'), routesDir: join(dir, 'ctl', 'run', '_routes'), hostsDir: join(dir, 'ctl', 'run', '_hosts'), suspendedDir: join(dir, 'ctl', 'suspended') };
  for (const d of Object.values(ctl)) mkdirSync(d, { recursive: true });
  writeFileSync(join(ctl.configDir, 'nginx.conf'), 'base');
  writeFileSync(join(ctl.configDir, 'tenants.conf'), 'tenants v1');
  writeFileSync(join(ctl.configDir, 'pool.conf'), 'pool');
  for (const n of ['acme', 'shop']) writeFileSync(join(ctl.routesDir, n), '');
  symlinkSync('../_routes/acme', join(ctl.hostsDir, 'acme.example'));
  writeFileSync(join(ctl.suspendedDir, 'shop.json'), '{"suspended":true}');

  const edge = { nginx: join(dir, 'edge', 'nginx'), run: join(dir, 'edge', 'run'), suspended: join(dir, 'edge', 'suspended') };
  // Through JSON, as it crosses the network.
  const fetched = () => JSON.parse(JSON.stringify(readEdgeFeed(ctl)));
  t.equal(applyEdgeFeed(fetched(), edge), true, 'the first feed is a config to load');
  t.ok(existsSync(join(edge.run, '_routes', 'acme')) && existsSync(join(edge.run, '_routes', 'shop')), 'both routes');
  t.equal(readlinkSync(join(edge.run, '_hosts', 'acme.example')), '../_routes/acme', "the customer's domain links to its tenant's route");
  t.equal(readFileSync(join(edge.suspended, 'shop.json'), 'utf8'), '{"suspended":true}', 'the suspended page');
  t.equal(readFileSync(join(edge.nginx, 'tenants.conf'), 'utf8'), 'tenants v1');
  t.equal(statSync(join(edge.run, '_routes', 'acme')).mode & 0o777, 0o644, "a route is readable by nginx's workers");

  // A tenant gone, a domain moved, a tenant resumed: files only, no reload.
  rmSync(join(ctl.routesDir, 'shop'));
  rmSync(join(ctl.hostsDir, 'acme.example'));
  symlinkSync('../_routes/shop', join(ctl.hostsDir, 'acme.example'));
  rmSync(join(ctl.suspendedDir, 'shop.json'));
  t.equal(applyEdgeFeed(fetched(), edge), false, 'routes, domains and pages never reload nginx');
  t.notOk(existsSync(join(edge.run, '_routes', 'shop')), 'the removed route is gone');
  t.equal(readlinkSync(join(edge.run, '_hosts', 'acme.example')), '../_routes/shop', 'the domain follows');
  t.notOk(existsSync(join(edge.suspended, 'shop.json')), 'the page is gone');

  writeFileSync(join(ctl.configDir, 'tenants.conf'), 'tenants v2');
  t.equal(applyEdgeFeed(fetched(), edge), true, 'a new config is a reload');
  t.equal(applyEdgeFeed(fetched(), edge), false, 'the same feed again changes nothing');

  // Names that would leave the edge's folders are not written.
  const hostile = { config: {}, routes: ['../../etc'], hosts: { '../x': 'acme', 'ok.example': '../../x' }, suspended: { '../../evil': 'x' } };
  applyEdgeFeed(hostile, edge);
  t.notOk(existsSync(join(dir, 'evil')) || existsSync(join(dir, 'edge', 'x')), 'nothing outside its folders');
});

t.test('the edge token: made once, private, and only the exact one passes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-edge-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'edge-token');
  const token = ensureEdgeToken(file);
  t.equal(ensureEdgeToken(file), token, 'the same token the second time');
  t.equal(statSync(file).mode & 0o777, 0o600, 'its file is 0600');
  t.ok(bearerMatches(`Bearer ${token}`, token), 'the token passes');
  for (const h of [undefined, '', token, `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `bearer ${token}`, 'Bearer ']) t.notOk(bearerMatches(h, token), `refused: ${JSON.stringify(h?.slice(0, 12))}`);
  t.notOk(bearerMatches('Bearer short', 'short'), 'a short token is never accepted');
});

t.test("the feed port: 304 while the agent's ETag is the feed's, 200 with the new feed once it changed, 401 without the token", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-edge-feed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ctl = { configDir: join(dir, 'edge'), routesDir: join(dir, 'run', '_routes'), hostsDir: join(dir, 'run', '_hosts'), suspendedDir: join(dir, 'suspended') };
  for (const d of Object.values(ctl)) mkdirSync(d, { recursive: true });
  writeFileSync(join(ctl.configDir, 'tenants.conf'), 'tenants v1');
  writeFileSync(join(ctl.routesDir, 'acme'), '');
  const token = ensureEdgeToken(join(dir, 'secrets', 'edge-token'));
  // The waker's own server, as waker-main makes it (its waker never asked: no tenant header here).
  const waker = createWaker(loadConfig({ SILO_HOME: join(dir, 'home') }), () => undefined);
  // It controls the stack until `taken` (another home took it over: control-state.ts).
  let taken = false;
  const server = createEdgeServer(waker, token, () => JSON.stringify(readEdgeFeed(ctl)), () => undefined, () => !taken);
  await listenOn(server, { port: 0, host: '127.0.0.1' });
  t.teardown(() => (server.close(), server.closeAllConnections()));
  const { port } = server.address() as AddressInfo;
  const get = (headers: Record<string, string>) =>
    new Promise<{ status: number; etag?: string; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: EDGE_FEED_PATH, headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, etag: res.headers.etag, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const auth = { authorization: `Bearer ${token}` };

  const first = await get(auth);
  t.equal(first.status, 200, 'the first fetch: the feed');
  t.same(JSON.parse(first.body).routes, ['acme']);
  t.ok(first.etag, 'with its ETag');
  const same = await get({ ...auth, 'if-none-match': first.etag! });
  t.equal(same.status, 304, 'nothing changed: 304');
  t.equal(same.body, '', 'and no feed');
  t.equal(same.etag, first.etag, 'the same ETag');

  writeFileSync(join(ctl.routesDir, 'shop'), '');
  const changed = await get({ ...auth, 'if-none-match': first.etag! });
  t.equal(changed.status, 200, 'a new route: 200');
  t.same(JSON.parse(changed.body).routes, ['acme', 'shop'], 'with the new feed');
  t.not(changed.etag, first.etag, 'under a new ETag');
  t.equal((await get({ ...auth, 'if-none-match': changed.etag! })).status, 304, 'which is then 304 in turn');
  t.equal((await get({ ...auth, 'if-none-match': first.etag! })).status, 200, 'an agent with the old one gets the feed');

  const refusals: Record<string, string>[] = [{ 'if-none-match': changed.etag! }, { authorization: 'Bearer not-the-token', 'if-none-match': changed.etag! }];
  for (const headers of refusals) {
    const refused = await get(headers);
    t.equal(refused.status, 401, `${headers.authorization ?? 'no token'}: 401, not 304`);
    t.equal(refused.etag, undefined, 'no ETag: nothing of the feed, not even its version');
    t.notMatch(refused.body, /acme|tenants v1/, 'nothing of the feed');
  }

  // Taken over by another home: the edge must ask another manager, so this one answers 503.
  taken = true;
  const fenced = await get(auth);
  t.equal(fenced.status, 503, 'a home another took over: 503, and the agent asks the next manager');
  t.match(fenced.body, /no longer controls the stack/, 'saying why');
  t.notMatch(fenced.body, /acme|tenants v1/, 'with nothing of its feed');
  t.equal((await get({})).status, 401, 'and still 401 without the token');
});
