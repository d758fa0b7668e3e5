// Runs the tap suite and ends with one plain line CI can read: "N passed, N failed".
// First it initialises one PostgreSQL data directory that every test file copies instead
// of running its own initdb (src/testing/pg-template.ts).
// The suite runs with TMPDIR set to a folder of its own, so that what its throwaway silo
// homes leave on the host (tenant users, groups, control groups) can be found and named
// afterwards (scripts/host-leftovers.js): anything left fails the run. Only what belongs
// to a home in that folder counts: another silo run on the same host cannot fail this one.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePgTemplate, removePgTemplate, TEMPLATE_ENV } from '../dist/testing/pg-template.js';
import { homesWatch, leftovers, snapshot } from './host-leftovers.js';

// Like /tmp (1777): under root the embedded server runs as `postgres` and workers as tenant
// users, which must reach the homes inside; tests acting as other users write here too.
const folder = mkdtempSync(join(tmpdir(), 'silo-suite-'));
chmodSync(folder, 0o1777);
const before = snapshot();
const watch = homesWatch(folder);

const template = await makePgTemplate();
const args = ['tap', ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, [TEMPLATE_ENV]: template, TMPDIR: folder } });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  removePgTemplate(template);
  // tap's last summary: "# { total: N, pass: N, fail: N, todo: N, skip: N }" (zero counts omitted)
  const summary = [...tail.matchAll(/# \{ total: [^}]*\}/g)].pop()?.[0] ?? '';
  const count = (key) => Number(new RegExp(`${key}: (\\d+)`).exec(summary)?.[1] ?? 0);
  let failed = count('fail');
  // A non-zero exit with no failed assertion (a file that crashed, a timeout) is a failure too.
  if (code !== 0 && failed === 0) failed = 1;
  const left = leftovers(before, folder, watch.stop());
  if (left.length) {
    process.stdout.write(`\nnot ok - the run left ${left.length} thing(s) on the host:\n${left.map((l) => `  ${l}`).join('\n')}\n`);
    failed++;
  }
  rmSync(folder, { recursive: true, force: true });
  const extra = ['todo', 'skip'].filter((k) => count(k) > 0).map((k) => `${count(k)} ${k}`);
  process.stdout.write(`\n${count('pass')} passed, ${failed} failed${extra.length ? ` (${extra.join(', ')})` : ''}\n`);
  process.exit(left.length && code === 0 ? 1 : (code ?? 1));
});
