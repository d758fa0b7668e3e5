/**
 * The edge's feed (src/proxy/edge.ts), in process: what the control host's files say is
 * what the edge writes (routes, domain links, suspended pages, config), an update changes
 * only what changed and reports a reload only for the config, and the token check takes
 * the exact token only. The edge as a Swarm service is test/hosts/swarm.test.ts.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEdgeFeed, bearerMatches, ensureEdgeToken, readEdgeFeed } from '../../src/proxy/edge.js';

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
