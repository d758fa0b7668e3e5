/**
 * `silo tenant backup`, `silo backup --all [--keep]` and `silo backup list` against a
 * real embedded PostgreSQL: what a backup file and its manifest entry hold, that --all
 * goes on past a failing tenant and names it, retention, and an interrupted backup.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeSiloHome } from '../helpers/silo-home.js';
import { homePaths } from '../../src/common/paths.js';
import { connectAdmin } from '../../src/postgres/admin.js';

const silo = await makeSiloHome(t);
const paths = homePaths(silo.cfg.home);
for (const name of ['acme', 'beta', 'gamma']) {
  const r = await silo.cli(['tenant', 'create', name]);
  if (r.code !== 0) throw new Error(r.stderr);
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

t.test('tenant backup writes a 0600 dump and a manifest entry that describes it', async (t) => {
  const r = await silo.cli(['tenant', 'backup', 'acme', '--json']);
  t.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  t.match(e, { tenant: 'acme', kind: 'manual', server: 'local', schemaVersion: 1, domains: [] });
  t.ok(e.file.startsWith(join(paths.backups, 'acme') + '/'), 'in backups/acme/');
  t.equal(statSync(e.file).mode & 0o777, 0o600, 'dump is 0600');
  t.equal(statSync(e.file.replace(/\.dump$/, '.json')).mode & 0o777, 0o600, 'entry is 0600');
  t.equal(statSync(paths.backups).mode & 0o777, 0o700, 'backups folder is 0700');
  t.equal(e.bytes, statSync(e.file).size);
  t.equal(e.sha256, sha256(e.file), 'the checksum is of the file as written');
  t.ok(Date.parse(e.finishedAt) >= Date.parse(e.startedAt));
  t.equal(readFileSync(e.file).subarray(0, 5).toString(), 'PGDMP', 'pg_dump custom format');

  const listed = JSON.parse((await silo.cli(['backup', 'list', '--tenant', 'acme', '--json'])).stdout);
  t.same(listed, [e]);
  const secret = readFileSync(paths.tenantPassword('acme'), 'utf8').trim();
  const admin = new URL(silo.adminUrl).password;
  for (const f of readdirSync(join(paths.backups, 'acme'))) {
    const text = readFileSync(join(paths.backups, 'acme', f), 'latin1');
    t.notOk(text.includes(secret) || text.includes(admin), `${f} holds no password`);
  }
  const human = await silo.cli(['tenant', 'backup', 'acme']);
  t.match(human.stdout, /^backed up acme: \/\S+\.dump \(\d+ bytes, schema 1, sha256 [0-9a-f]{12}…\)\n$/);
});

t.test('bad input: one line, non-zero, nothing written', async (t) => {
  const before = readdirSync(paths.backups).sort();
  const unknown = await silo.cli(['tenant', 'backup', 'nobody']);
  t.same([unknown.code, unknown.stderr], [1, 'silo: no tenant named "nobody"\n']);
  const invalid = await silo.cli(['tenant', 'backup', '../etc']);
  t.equal(invalid.code, 1);
  t.match(invalid.stderr, /^silo: invalid tenant name/);
  const bare = await silo.cli(['backup']);
  t.same([bare.code, bare.stderr.split('\n').length], [1, 2]);
  const keep = await silo.cli(['backup', '--all', '--keep', '0']);
  t.same([keep.code, keep.stderr], [1, 'silo: --keep takes a whole number of at least 1, not "0"\n']);
  t.same(readdirSync(paths.backups).sort(), before);
});

t.test('backup --all goes on past a failing tenant, names it, exits 1; --keep keeps the newest n', async (t) => {
  const admin = connectAdmin(silo.adminUrl);
  t.teardown(() => admin.end());
  // beta's database disappears behind silo's back.
  await admin.unsafe('alter database beta rename to beta_gone');
  const r = await silo.cli(['backup', '--all', '--keep', '2']);
  await admin.unsafe('alter database beta_gone rename to beta');
  t.equal(r.code, 1);
  t.match(r.stdout, /^acme: \/\S+acme-\S+\.dump/m);
  t.match(r.stdout, /^beta: FAILED: tenant "beta" has no database on server "local"/m);
  t.match(r.stdout, /^gamma: \/\S+gamma-\S+\.dump/m);
  t.match(r.stdout, /2 of 3 tenants backed up \(\d+ bytes\), 1 failed/);
  t.equal(r.stderr, 'silo: backup failed for beta\n');
  t.equal(JSON.parse((await silo.cli(['backup', 'list', '--tenant', 'acme', '--json'])).stdout).length, 2, 'acme: 3 backups, 2 kept');

  const again = await silo.cli(['backup', '--all', '--keep', '1', '--concurrency', '3']);
  t.equal(again.code, 0, again.stderr);
  const all = JSON.parse((await silo.cli(['backup', 'list', '--json'])).stdout) as { tenant: string; file: string }[];
  t.same(all.map((e) => e.tenant).sort(), ['acme', 'beta', 'gamma']);
  for (const e of all) t.ok(existsSync(e.file));
  t.equal(readdirSync(join(paths.backups, 'acme')).length, 2, 'pruned dumps are gone with their entries');
});

t.test('a backup killed before it is recorded is never listed, and the next one sweeps it', async (t) => {
  const before = JSON.parse((await silo.cli(['backup', 'list', '--tenant', 'gamma', '--json'])).stdout);
  const killed = await silo.cli(['tenant', 'backup', 'gamma'], { SILO_TEST_CRASH_AT: 'backup:record' });
  t.not(killed.code, 0);
  const dir = join(paths.backups, 'gamma');
  t.equal(readdirSync(dir).filter((f) => f.endsWith('.dump')).length, before.length + 1, 'a dump without an entry is left');
  t.same(JSON.parse((await silo.cli(['backup', 'list', '--tenant', 'gamma', '--json'])).stdout), before, 'not listed');
  t.equal((await silo.cli(['tenant', 'backup', 'gamma'])).code, 0);
  const files = readdirSync(dir);
  t.equal(files.filter((f) => f.endsWith('.dump')).length, files.filter((f) => f.endsWith('.json')).length, 'every dump has its entry');
});
