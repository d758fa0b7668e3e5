// Runs the tap suite and ends with one plain line CI can read: "N passed, N failed".
//   node scripts/test.js              the quick tier (`npm test`)
//   node scripts/test.js all          every tier, then NEWEST_NODE_FILES on the newest Node (`npm run test:all`, CI)
//   node scripts/test.js <tier>...    those tiers (scripts/tiers.js names them)
//   node scripts/test.js <files>...   those files
// First it initialises one PostgreSQL data directory that every test file copies instead
// of running its own initdb (src/testing/pg-template.ts).
// The suite runs with TMPDIR set to a folder of its own, so that what its throwaway silo
// homes leave on the host (tenant users, groups, control groups) can be found and named
// afterwards (scripts/host-leftovers.js): anything left fails the run. Only what belongs
// to a home in that folder counts: another silo run on the same host cannot fail this one.
// Every tier (`all`) then runs NEWEST_NODE_FILES again on the newest Node
// major silo supports (SILO_TEST_NEWEST_NODE, default 24; `off` skips it), from the npm
// registry (scripts/node-binary.js): the stack end to end, on Node 20's successor.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePgTemplate, removePgTemplate, TEMPLATE_ENV } from '../dist/testing/pg-template.js';
import { homesWatch, leftovers, snapshot } from './host-leftovers.js';
import { nodeBinDir } from './node-binary.js';
import { filesOf, TIERS } from './tiers.js';

const NEWEST_NODE_FILES = ['test/e2e/nginx.test.ts'];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tapBin = join(root, 'node_modules', 'tap', JSON.parse(readFileSync(join(root, 'node_modules', 'tap', 'package.json'), 'utf8')).bin.tap);

const args = process.argv.slice(2);
const tierNames = TIERS.map((t) => t.name);
const everything = args.includes('all');
const named = args.filter((a) => a !== 'all' && !tierNames.includes(a));
const tiers = everything ? ['all'] : args.filter((a) => tierNames.includes(a));
if (!named.length && !tiers.length) tiers.push('quick');
const files = named.length ? named : filesOf(root, tiers);
if (!named.length) process.stdout.write(`# tiers: ${everything ? tierNames.join(', ') : tiers.join(', ')} (${files.length} files; scripts/tiers.js)\n`);

// Like /tmp (1777): under root the embedded server runs as `postgres` and workers as tenant
// users, which must reach the homes inside; tests acting as other users write here too.
const folder = mkdtempSync(join(tmpdir(), 'silo-suite-'));
chmodSync(folder, 0o1777);
const before = snapshot();
const watch = homesWatch(folder);

// SIGINT/SIGTERM: passed on to tap and to each test file it runs (its children, by PID),
// then this waits for the run to end and cleans up as after any run. tap (21.8) passes a
// signal on only to test files it runs in parallel, not to one it runs alone, and npx
// passes none on: tap is run without npx, and the test files are signalled here (those
// tap starts afterwards too), so that their own handlers tear down what they started.
let stopping = false;
let current;
/** The processes whose parent is `pid`, from /proc. */
function childrenOf(pid) {
  const out = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
function passOn(run, sig) {
  for (const pid of [run.child.pid, ...childrenOf(run.child.pid)]) {
    if (run.signalled.has(pid)) continue;
    run.signalled.add(pid);
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    const run = current;
    if (!run || run.closed) return;
    passOn(run, sig);
    const again = setInterval(() => (run.closed ? clearInterval(again) : passOn(run, sig)), 500);
  });
}
const template = await makePgTemplate();

/** One tap run; its counts from tap's last summary ("# { total: N, pass: N, fail: N, ... }"). */
function tap(files, env = process.env) {
  return new Promise((resolve) => {
    if (stopping) return resolve({ pass: 0, fail: 1, todo: 0, skip: 0 });
    // `node` as `env`'s PATH finds it (the newest Node's for NEWEST_NODE_FILES), with
    // node_modules/.bin first on it as npx would put it
    const path = `${join(root, 'node_modules', '.bin')}:${env.PATH ?? ''}`;
    const child = spawn('node', [tapBin, ...files], { stdio: ['inherit', 'pipe', 'inherit'], env: { ...env, PATH: path, [TEMPLATE_ENV]: template, TMPDIR: folder } });
    const run = { child, closed: false, signalled: new Set() };
    current = run;
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      run.closed = true;
      const summary = [...tail.matchAll(/# \{ total: [^}]*\}/g)].pop()?.[0] ?? '';
      const count = (key) => Number(new RegExp(`${key}: (\\d+)`).exec(summary)?.[1] ?? 0);
      let fail = count('fail');
      // A non-zero exit with no failed assertion (a file that crashed, a timeout) is a failure too.
      if (code !== 0 && fail === 0) fail = 1;
      resolve({ pass: count('pass'), fail, todo: count('todo'), skip: count('skip') });
    });
  });
}

const runs = [await tap(files)];
const newest = process.env.SILO_TEST_NEWEST_NODE ?? '24';
if (everything && newest !== 'off' && newest !== process.versions.node.split('.')[0] && !stopping) {
  let bin;
  try {
    bin = nodeBinDir(newest);
  } catch (err) {
    process.stdout.write(`\nnot ok - Node ${newest}: ${err.message}\n`);
    runs.push({ pass: 0, fail: 1, todo: 0, skip: 0 });
  }
  if (bin) {
    process.stdout.write(`\n# the stack end to end on Node ${newest}: ${NEWEST_NODE_FILES.join(' ')}\n`);
    runs.push(await tap(NEWEST_NODE_FILES, { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }));
  }
}
removePgTemplate(template);
const total = (key) => runs.reduce((n, r) => n + r[key], 0);
let failed = total('fail');
const left = leftovers(before, folder, watch.stop());
if (left.length) {
  process.stdout.write(`\nnot ok - the run left ${left.length} thing(s) on the host:\n${left.map((l) => `  ${l}`).join('\n')}\n`);
  failed++;
}
rmSync(folder, { recursive: true, force: true });
const extra = ['todo', 'skip'].filter((k) => total(k) > 0).map((k) => `${total(k)} ${k}`);
process.stdout.write(`\n${total('pass')} passed, ${failed} failed${extra.length ? ` (${extra.join(', ')})` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
