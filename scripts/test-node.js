// `npm run test:node -- <major> [test files...]`: the suite (or the given files) on another
// Node.js major (22, 24, ...), without changing the machine: the npm registry ships Node's
// binaries as packages (node-<platform>-<arch>), installed once under .cache/node/<major>/.
// Everything the run starts takes that node: tap and its test files, the silo CLI, PM2's
// daemon, the waker and every worker (they run process.execPath).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, ...files] = process.argv.slice(2);
if (!/^\d+$/.test(major ?? '')) {
  process.stderr.write('usage: npm run test:node -- <major version, e.g. 24> [test files...]\n');
  process.exit(2);
}
const pkg = `node-${process.platform}-${process.arch}`;
const dir = join(root, '.cache', 'node', major);
const bin = join(dir, 'node_modules', pkg, 'bin');
if (!existsSync(join(bin, 'node'))) {
  process.stderr.write(`installing ${pkg}@${major} from the npm registry into ${dir}\n`);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${pkg}@${major}`], { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(join(bin, 'node'))) {
    process.stderr.write(`could not install ${pkg}@${major}\n`);
    process.exit(1);
  }
}
const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
const version = spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
process.stderr.write(`running the suite on node ${version}\n`);
const r = spawnSync(join(bin, 'node'), [join(root, 'scripts', 'test.js'), ...files], { stdio: 'inherit', env, cwd: root });
process.exit(r.status ?? 1);
