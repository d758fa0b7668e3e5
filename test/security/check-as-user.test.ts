/**
 * The release check imports an app's code (`silo up`, `tenant create`, `deploy`): under
 * root it must not run it as root. An app whose top level tries to write files and read
 * the state folder's secrets gets nothing: it runs as the home's check user, which may
 * write only its private temporary folder.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSiloHome } from '../helpers/silo-home.js';
import { figures } from './hostile.js';
import { registerRelease } from '../../src/apps/releases.js';
import { lookupUser } from '../../src/isolation/os-users.js';
import { tenantUserName } from '../../src/isolation/tenant-user.js';

if (process.getuid?.() !== 0) {
  t.comment('not root: the check runs as silo’s own user, there is nothing to drop');
  process.exit(0);
}

t.test("an app's top level at the release check cannot write files or read the secrets", async (t) => {
  const silo = await makeSiloHome(t, { startDatabase: false });
  const home = silo.cfg.home;
  const dir = mkdtempSync(join(tmpdir(), 'silo-evilcheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'migrations'));
  writeFileSync(join(dir, 'migrations', '0001_x.sql'), 'create table x (id int);');
  writeFileSync(
    join(dir, 'index.js'),
    `import { readFileSync, writeFileSync } from 'node:fs';
     import { tmpdir } from 'node:os';
     import { join } from 'node:path';
     const home = ${JSON.stringify(home)};
     const attempt = (fn) => { try { fn(); return 'done'; } catch (e) { return e.code ?? String(e.message); } };
     const seen = {
       uid: process.getuid(),
       readSecret: attempt(() => readFileSync(join(home, 'secrets', 'servers', 'local.url'), 'utf8')),
       readRegistry: attempt(() => readFileSync(join(home, 'registry.json'), 'utf8')),
       writeHome: attempt(() => writeFileSync(join(home, 'pwned'), 'x')),
       writeApp: attempt(() => writeFileSync(new URL('./pwned', import.meta.url), 'x')),
       writeEtc: attempt(() => writeFileSync('/etc/silo-check-pwned', 'x')),
       writeTmp: attempt(() => writeFileSync(join(tmpdir(), 'scratch'), 'x')),
       tmp: tmpdir(),
     };
     throw new Error('SEEN ' + JSON.stringify(seen));
     export const name = 'x';`,
  );
  const r = await silo.cli(['up'], { SILO_APP: dir });
  t.equal(r.code, 1, 'the app is refused');
  const seen = JSON.parse(/SEEN (\{.*\})/.exec(r.stderr)?.[1] ?? '{}') as Record<string, string | number>;
  const user = lookupUser(tenantUserName(home, '_check'));
  t.ok(user, 'the home has its check user');
  t.equal(seen.uid, user?.uid, `the check ran as ${tenantUserName(home, '_check')}, not root: ${r.stderr.trim()}`);
  t.equal(seen.readSecret, 'EACCES', 'the admin URL cannot be read');
  t.equal(seen.writeHome, 'EACCES', 'nothing written in the state folder');
  t.equal(seen.writeApp, 'EACCES', 'nothing written beside the app snapshot');
  t.equal(seen.writeEtc, 'EACCES', 'nothing written in /etc');
  t.equal(seen.writeTmp, 'done', 'its own temporary folder is writable');
  t.notOk(existsSync(join(home, 'pwned')) || existsSync('/etc/silo-check-pwned'), 'no file left behind');
  t.notOk(existsSync(String(seen.tmp)), 'its temporary folder is gone');
  t.notOk(r.stderr.includes('postgres://'), 'no secret in the output');
  const refused = ['readSecret', 'writeHome', 'writeApp', 'writeEtc'].every((k) => seen[k] === 'EACCES');
  figures(t, 'release-check-as-root', refused && seen.uid !== 0 ? 'refused' : 'succeeded', { uid: String(seen.uid), readSecret: String(seen.readSecret), writeHome: String(seen.writeHome) });

  // A good app still passes the check (it reads its snapshot and silo's code as that user).
  writeFileSync(join(dir, 'index.js'), `export const name = 'x'; export async function plugin() {} export const migrationsDir = new URL('./migrations/', import.meta.url).pathname;`);
  const release = await registerRelease(silo.cfg, dir);
  t.equal(release.name, 'x', 'a good app passes the check');
});
