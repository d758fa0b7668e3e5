/**
 * A release's recorded paths follow its home (src/apps/releases.ts, readRelease): a home
 * restored at another path, or taken over on another manager, runs its releases from
 * its own store, not from the folder of the home that deployed them.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRelease } from '../../src/apps/releases.js';
import type { SiloConfig } from '../../src/common/config.js';

t.test("a release written under another home's path is read under this one's", async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'silo-release-paths-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const id = '0123456789abcdef';
  mkdirSync(join(home, 'releases', id), { recursive: true });
  const old = `/var/lib/old-home/releases/${id}`;
  const write = (r: object) => writeFileSync(join(home, 'releases', id, 'release.json'), JSON.stringify({ id, name: 'polls', hash: 'x', source: '/src/polls', latestMigration: 1, createdAt: '2026-12-06T00:00:00Z', ...r }));
  const cfg = { home } as SiloConfig;

  write({ entry: `${old}/dist/index.js`, migrationsDir: `${old}/migrations` });
  const moved = readRelease(cfg, id);
  t.equal(moved.entry, join(home, 'releases', id, 'dist', 'index.js'), 'its entry is in this home');
  t.equal(moved.migrationsDir, join(home, 'releases', id, 'migrations'), 'and its migrations');

  write({ entry: join(home, 'releases', id, 'index.js'), migrationsDir: '/opt/shared/migrations' });
  const here = readRelease(cfg, id);
  t.equal(here.entry, join(home, 'releases', id, 'index.js'), 'a path already here is kept');
  t.equal(here.migrationsDir, '/opt/shared/migrations', 'a path outside any release is kept');
});
