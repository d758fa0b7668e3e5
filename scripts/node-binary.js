// Another Node.js major without changing the machine: the npm registry ships Node's
// binaries as packages (node-<platform>-<arch>), installed once under .cache/node/<major>/.
// Returns the folder holding that `node`, or throws with one line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function nodeBinDir(major) {
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(root, '.cache', 'node', String(major));
  const bin = join(dir, 'node_modules', pkg, 'bin');
  if (!existsSync(join(bin, 'node'))) {
    process.stderr.write(`installing ${pkg}@${major} from the npm registry into ${dir}\n`);
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${pkg}@${major}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0 || !existsSync(join(bin, 'node'))) throw new Error(`could not install ${pkg}@${major} from the npm registry`);
  }
  return bin;
}
