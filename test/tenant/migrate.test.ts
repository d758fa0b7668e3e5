/**
 * `silo migrate` over 20 tenants where one has a conflicting table: 19 migrate, the
 * command exits 1 and names the one.
 */
import t from 'tap';
import { makeSiloHome } from '../helpers/silo-home.js';
import { pollsApp } from '../helpers/polls-app.js';
import { createTenant } from '../../src/tenant/create.js';
import { mapLimit } from '../../src/common/map-limit.js';
import { readRegistry } from '../../src/registry/registry.js';
import { homePaths } from '../../src/common/paths.js';
import { tenantCredentials } from '../../src/servers/tenant-credentials.js';
import { connectAs } from '../../src/postgres/tenant-session.js';

t.test('migrate continues past a failing tenant and names it', async (t) => {
  const silo = await makeSiloHome(t);
  const names = Array.from({ length: 20 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
  await mapLimit(names, 4, (n) => createTenant(silo.cfg, n));

  // A new migration the app ships; tenant t07 already has a table of that name.
  const dir = pollsApp(t, { migrations: { '0002_poll_tags.sql': 'create table poll_tags (poll_id bigint references polls(id), tag text not null);' } });
  const reg = readRegistry(homePaths(silo.cfg.home).registry);
  const t07 = connectAs(tenantCredentials(silo.cfg, reg, 't07'));
  await t07`create table poll_tags (id int)`;
  await t07.end();

  const run = await silo.cli(['migrate'], { SILO_APP: dir });
  t.equal(run.code, 1);
  t.equal(run.stderr.trim().split('\n').pop(), 'silo: migration failed for t07');
  t.match(run.stdout, /t07: FAILED: relation "poll_tags" already exists/);
  t.match(run.stdout, /19 of 20 tenants up to date, 1 failed/);

  const after = readRegistry(homePaths(silo.cfg.home).registry);
  for (const n of names) t.equal(after.tenants[n]!.schemaVersion, n === 't07' ? 1 : 2, `${n} schema version`);

  const again = await silo.cli(['migrate', '--tenant', 't01'], { SILO_APP: dir });
  t.equal(again.code, 0);
  t.match(again.stdout, /t01: up to date \(version 2\)/);

  const racing = await Promise.all([
    silo.cli(['migrate', '--tenant', 't01'], { SILO_APP: dir }),
    silo.cli(['migrate', '--tenant', 't01'], { SILO_APP: dir }),
  ]);
  t.same(racing.map((r) => r.code), [0, 0], 'two racing runs both succeed');
});
