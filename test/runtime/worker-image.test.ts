/**
 * The image a tenant's Swarm service runs is named by its content (in-process, no
 * engine): a release gets an image of its own, a changed file a new one, and tsc's
 * incremental record (rewritten by any type check) changes nothing. A stamp that hashed
 * no file at all once gave a release the stack app's image: its task started without its
 * app and the canary was rolled back.
 */
import t from 'tap';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/common/config.js';
import { emptyRegistry } from '../../src/registry/registry.js';
import { workerImage } from '../../src/runtime/swarm/images.js';

t.test('a release has its own image; its content names it, build records do not', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'silo-image-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const id = '0123456789abcdef';
  const folder = join(home, 'releases', id);
  mkdirSync(join(folder, 'app'), { recursive: true });
  writeFileSync(join(folder, 'app', 'index.js'), 'export default {}\n');
  const release = { id, name: 'polls', hash: 'x', source: '/src', entry: join(folder, 'app', 'index.js'), migrationsDir: join(folder, 'app', 'migrations'), latestMigration: 0, createdAt: '' };
  writeFileSync(join(folder, 'release.json'), JSON.stringify(release));

  const cfg = loadConfig({ SILO_HOME: home, SILO_RUNTIME: 'swarm' });
  const reg = emptyRegistry();
  const base = { server: 'db', domains: [], state: 'ready' as const, schemaVersion: 1, createdAt: '' };
  reg.tenants.plain = { ...base, port: 21001 };
  reg.tenants.canary = { ...base, port: 21002, release: { id, previous: null } };

  const plain = workerImage(cfg, reg, 'plain');
  const canary = workerImage(cfg, reg, 'canary');
  t.not(canary.tag, plain.tag, 'the release is in an image of its own');
  t.equal(canary.appModule, '/srv/app/app/index.js', 'its app module, where the image has it');
  t.ok(canary.files.some(([from, to]) => from === folder && to === 'app'), 'the release folder goes in');

  // A release never changes (its id is a hash of its files): its id names its image.
  const id2 = 'fedcba9876543210';
  const folder2 = join(home, 'releases', id2);
  mkdirSync(join(folder2, 'app'), { recursive: true });
  writeFileSync(join(folder2, 'app', 'index.js'), 'export default { changed: true }\n');
  writeFileSync(join(folder2, 'release.json'), JSON.stringify({ ...release, id: id2, entry: join(folder2, 'app', 'index.js'), migrationsDir: join(folder2, 'app', 'migrations') }));
  reg.tenants.canary.release = { id: id2, previous: id };
  t.not(workerImage(cfg, reg, 'canary').tag, canary.tag, 'another release is a new image');
  reg.tenants.canary.release = { id, previous: null };

  // The same release in a home at another path (taken over on another manager, copied out
  // of its image, its files' times kept): the same image, found, not built again.
  const home2 = mkdtempSync(join(tmpdir(), 'silo-image-elsewhere-'));
  t.teardown(() => rmSync(home2, { recursive: true, force: true }));
  cpSync(join(home, 'releases'), join(home2, 'releases'), { recursive: true, preserveTimestamps: true });
  t.equal(workerImage(loadConfig({ SILO_HOME: home2, SILO_RUNTIME: 'swarm' }), reg, 'canary').tag, canary.tag, 'the same release elsewhere is the same image');

  writeFileSync(join(folder, 'x.tsbuildinfo'), '{}');
  t.equal(workerImage(cfg, reg, 'canary').tag, canary.tag, 'a build record beside the code changes nothing');
});
