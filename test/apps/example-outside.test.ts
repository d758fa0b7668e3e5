/**
 * The example app (examples/notes) as a team runs it: in its own folder outside silo's
 * checkout, silo a dependency, `npx silo up` from that folder. SILO_HOME defaults to the
 * folder's .silo/; each demo tenant runs the notes app, seeded, in its own database.
 * Then the example's own tap tests, which use silo/testing, pass in that folder.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { freePort } from '../../src/common/ports.js';
import { httpRequest, processesOf } from '../helpers/stack.js';
import { teamFolder } from '../helpers/team-folder.js';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

t.test('npx silo up from a team folder serves the notes app per tenant', async (t) => {
  const dir = teamFolder(t);
  const httpPort = await freePort();
  const home = join(dir, '.silo');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PM2_HOME: join(home, 'pm2'),
    SILO_APP: '.',
    SILO_HTTP_PORT: String(httpPort),
    SILO_PG_PORT: String(await freePort()),
    SILO_WORKER_PORT_BASE: String(20000 + Math.floor(Math.random() * 12000)),
  };
  const npx = (args: string[]) => run('npx', ['--no-install', 'silo', ...args], dir, env);
  t.teardown(async () => {
    await npx(['down']);
    for (const pid of processesOf(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  const up = await npx(['up']);
  t.equal(up.code, 0, up.stderr);
  t.match(up.stdout, /created demo tenant client1/);
  t.ok(existsSync(join(home, 'registry.json')), 'SILO_HOME defaulted to the team folder\'s .silo/');
  const reg = JSON.parse(readFileSync(join(home, 'registry.json'), 'utf8'));
  t.same(Object.keys(reg.tenants).sort(), ['client1', 'client2']);

  for (const tenant of ['client1', 'client2']) {
    const notes = await httpRequest(httpPort, `${tenant}.localhost`, '/api/notes');
    t.equal(notes.status, 200, notes.text);
    t.match(notes.json(), [{ text: `Welcome to ${tenant}: these notes live in ${tenant}'s own database.` }], `${tenant} seeded by the app's seed()`);
    t.same((await httpRequest(httpPort, `${tenant}.localhost`, '/api/version')).json(), { app: 'notes', version: '1.0.0' });
  }
  const added = await httpRequest(httpPort, 'client1.localhost', '/api/notes', { method: 'POST', body: { text: 'only here', expiresIn: '1d' } });
  t.equal(added.status, 201, added.text);
  t.equal((await httpRequest(httpPort, 'client2.localhost', '/api/notes')).json().length, 1, 'client2 does not see it');

  const created = await npx(['tenant', 'create', 'third']);
  t.equal(created.code, 0, created.stderr);
  t.same((await httpRequest(httpPort, 'third.localhost', '/api/notes')).json(), [], 'a new tenant runs the app too, unseeded');

  // A release from the team folder itself (SILO_HOME, .silo/, is inside it) to one tenant.
  const pkgFile = join(dir, 'package.json');
  writeFileSync(pkgFile, readFileSync(pkgFile, 'utf8').replace('"version": "1.0.0"', '"version": "1.1.0"'));
  writeFileSync(join(dir, 'migrations', '0002_note_pinned.sql'), 'alter table notes add column pinned boolean not null default false;\n');
  const deployed = await npx(['deploy', '.', '--tenant', 'client1']);
  t.equal(deployed.code, 0, deployed.stderr);
  t.match(deployed.stdout, /client1: notes@1\.0\.0 \([0-9a-f]{16}\) -> notes@1\.1\.0 \([0-9a-f]{16}\), schema 1 -> 2/, 'up had registered 1.0.0 as the tenants\' release');
  t.same((await httpRequest(httpPort, 'client1.localhost', '/api/version')).json(), { app: 'notes', version: '1.1.0' });
  t.same((await httpRequest(httpPort, 'client2.localhost', '/api/version')).json(), { app: 'notes', version: '1.0.0' }, 'client2 stays on 1.0.0: its snapshot, not the edited folder');
  const releases = readdirSync(join(home, 'releases')).filter((d) => /^[0-9a-f]{16}$/.test(d));
  t.equal(releases.length, 2, 'two releases in .silo/releases: 1.0.0 (from up) and 1.1.0');
  for (const id of releases) {
    t.notOk(existsSync(join(home, 'releases', id, '.silo')), 'a snapshot leaves out .silo/');
    t.ok(existsSync(join(home, 'releases', id, 'node_modules', 'ms', 'package.json')), 'a snapshot keeps its dependencies');
  }
  const list = JSON.parse((await npx(['tenant', 'list', '--json'])).stdout);
  t.same(list.map((x: { release: { version: string } }) => x.release.version), ['1.1.0', '1.0.0', '1.0.0'], 'client1 1.1.0; client2 and third 1.0.0');
});

t.test("the example's own tests pass in the team folder (silo/testing)", async (t) => {
  const dir = teamFolder(t);
  const r = await run(process.execPath, [join('test', 'notes.test.js')], dir, { PATH: process.env.PATH, HOME: process.env.HOME });
  t.equal(r.code, 0, r.code === 0 ? 'node test/notes.test.js exits 0' : `${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  t.match(r.stdout, /^# \{ total: (\d+), pass: \1 \}$/m, 'every assertion passed');
  t.notMatch(r.stdout, /^\s*not ok/m);
});
