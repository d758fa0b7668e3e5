/**
 * `silo down --purge --yes` on a state folder that a first `silo up` left without a
 * registry (here: up with an app that fails its release check, which has made the check's
 * Unix user under root): it removes what is there (the home's processes, its users, the
 * folder) and says so in one line. A folder with something silo does not make stays
 * refused. No stack runs: nothing of it was started.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/silo-home.js';
import { homeProcesses, homeUsers } from '../../src/stack/purge.js';
import { forgetHome } from '../../src/isolation/cleanup.js';

const root = process.getuid?.() === 0;
const folder = mkdtempSync(join(tmpdir(), 'silo-purge-half-'));
chmodSync(folder, 0o755); // the check user enters the home below it
t.teardown(() => rmSync(folder, { recursive: true, force: true }));
const env = (home: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, SILO_HOME: home, PM2_HOME: join(folder, 'pm2'), SILO_HTTP_PORT: '1' });

/** An app whose import throws: `silo up` stops at its release check, before any registry. */
function badApp(): string {
  const app = join(folder, 'bad-app');
  mkdirSync(app, { mode: 0o755 });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'bad', type: 'module', main: 'index.js' }), { mode: 0o644 });
  writeFileSync(join(app, 'index.js'), 'throw new Error("this app does not start")\n', { mode: 0o644 });
  return app;
}

t.test('a home without registry.json is purged, in one line', async (t) => {
  const home = join(folder, 'home');
  t.teardown(() => forgetHome(home));
  const up = await runCli({ ...env(home), SILO_APP: badApp() }, ['up']);
  t.equal(up.code, 1, 'the first up fails');
  t.match(up.stderr, /this app does not start/);
  t.notOk(existsSync(join(home, 'registry.json')), `it left no registry, only ${readdirSync(home).join(', ')}`);
  const users = homeUsers(home);
  if (root) t.equal(users.length, 1, `under root, the check's user was made (${users.join(', ')})`);

  // Something still running for that home (its path on its command line).
  const leftover = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', home], { stdio: 'ignore' });
  t.teardown(() => void (leftover.exitCode === null && leftover.signalCode === null && leftover.kill('SIGKILL')));
  await new Promise((resolve) => leftover.once('spawn', resolve));
  t.same(homeProcesses(home, users), [leftover.pid]);
  const exited = new Promise((resolve) => leftover.once('exit', (code, signal) => resolve(signal)));

  const r = await runCli(env(home), ['down', '--purge', '--yes']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const last = r.stdout.trimEnd().split('\n').pop();
  t.equal(last, `purged ${home}, a state folder without registry.json: removed 1 process(es), ${users.map((u) => `user ${u}, `).join('')}the folder`);
  if (r.code === 0) t.equal(await exited, 'SIGTERM', 'its process was stopped');
  t.same(homeUsers(home), [], 'no user of it is left');
  t.notOk(existsSync(home), 'nor the folder');
});

t.test('a folder without registry.json holding something silo does not make is still refused', async (t) => {
  const other = join(folder, 'other');
  mkdirSync(join(other, 'locks'), { recursive: true });
  writeFileSync(join(other, 'thesis.tex'), 'years of work');
  const r = await runCli(env(other), ['down', '--purge', '--yes']);
  t.same([r.code, r.stderr], [1, `silo: ${other} does not look like a silo state folder (no registry.json): refusing to purge it\n`]);
  t.same(readdirSync(other).sort(), ['locks', 'thesis.tex']);
});
