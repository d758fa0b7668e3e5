import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations } from '../../src/migrate/files.js';
import { latestVersion, pendingMigrations } from '../../src/migrate/pending.js';

const m = (version: number) => ({ version, name: `m${version}`, sql: '' });

t.test('pending are the migrations above the applied version', async (t) => {
  const all = [m(1), m(2), m(3)];
  t.same(pendingMigrations(all, 0).map((x) => x.version), [1, 2, 3]);
  t.same(pendingMigrations(all, 2).map((x) => x.version), [3]);
  t.same(pendingMigrations(all, 3), []);
  t.equal(latestVersion(all), 3);
  t.equal(latestVersion([]), 0);
});

t.test('a database ahead of the code is an error', async (t) => {
  t.throws(() => pendingMigrations([m(1)], 2), /schema version 2 but this code only knows 1/);
});

t.test('migration files are numbered without gaps', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'silo-mig-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '0001_a.sql'), 'select 1');
  writeFileSync(join(dir, '0002_b.sql'), 'select 2');
  t.same(loadMigrations(dir).map((x) => [x.version, x.name]), [[1, 'a'], [2, 'b']]);
  writeFileSync(join(dir, '0004_d.sql'), 'select 4');
  t.throws(() => loadMigrations(dir), /without gaps/);
  rmSync(join(dir, '0004_d.sql'));
  writeFileSync(join(dir, 'oops.sql'), '');
  t.throws(() => loadMigrations(dir), /not named NNNN_name.sql/);
});
