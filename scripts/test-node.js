// `npm run test:node -- <major> [all | tier names | test files...]`: the quick tier (or
// every tier, those tiers, those files: scripts/test.js) on another Node.js major (22, 24, ...), from the npm registry (scripts/node-binary.js).
// Everything the run starts takes that node: tap and its test files, the silo CLI, PM2's
// daemon, the waker and every worker (they run process.execPath).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBinDir } from './node-binary.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, ...files] = process.argv.slice(2);
if (!/^\d+$/.test(major ?? '')) {
  process.stderr.write('usage: npm run test:node -- <major version, e.g. 24> [all | tier names | test files...]\n');
  process.exit(2);
}
let bin;
try {
  bin = nodeBinDir(major);
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
const version = spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
process.stderr.write(`running the suite on node ${version}\n`);
const r = spawnSync(join(bin, 'node'), [join(root, 'scripts', 'test.js'), ...files], { stdio: 'inherit', env, cwd: root });
process.exit(r.status ?? 1);
