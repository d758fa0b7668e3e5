/**
 * A team's repository outside silo's checkout, as `npm install` leaves it: the example
 * app copied to a temp folder, silo linked in node_modules (a `file:` dependency is a
 * symlink, and npm links its bin into node_modules/.bin), the app's own dependency `ms`
 * and the dev dependency `tap` in place. (Copied and linked from silo's node_modules,
 * because the machine that runs the tests has no registry to install from.)
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './silo-home.js';
import { forgetHome } from '../../src/isolation/cleanup.js';

export function teamFolder(t: { teardown(fn: () => unknown): void }, example = 'notes'): string {
  const base = mkdtempSync(join(tmpdir(), 'silo-team-'));
  const dir = join(base, example);
  // A team's folder is usually 0755; mkdtemp's 0700 would keep the embedded server's
  // `postgres` user (under root) from reaching .silo/postgres inside it.
  chmodSync(base, 0o755);
  t.teardown(() => {
    rmSync(base, { recursive: true, force: true });
    forgetHome(base); // under root: its tenants' and proxy's users, socket folders, control groups
  });
  cpSync(join(root, 'examples', example), dir, { recursive: true, filter: (src) => !/[/\\](node_modules|\.silo)$/.test(src) });
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  cpSync(join(root, 'node_modules', 'ms'), join(modules, 'ms'), { recursive: true });
  symlinkSync(root, join(modules, 'silo'));
  symlinkSync(join(root, 'node_modules', 'tap'), join(modules, 'tap'));
  symlinkSync('../silo/bin/silo.js', join(modules, '.bin', 'silo'));
  return dir;
}
