/**
 * `silo service install | uninstall`: the systemd unit that runs the stack (`silo run`) and
 * brings it back after a reboot or a failure. This machine has systemd installed but does
 * not boot with it (systemd is not PID 1 here), so the test cannot start the unit: it writes
 * it into a folder of its own (`--unit-dir`) and checks it with `systemd-analyze verify`,
 * which loads it as systemd would (every directive known, the executables present). That
 * `silo run` itself keeps the stack up is test/stack/run.test.ts and
 * test/resilience/run-daemon-kill.test.ts.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../../src/common/config.js';
import { ensureDefaultServer } from '../../src/servers/servers.js';
import { runCli, siloBin } from '../helpers/silo-home.js';

const SECRET = 'postgres://admin:n0t-in-the-unit@db.example:5432/postgres';

async function home(t: { teardown(fn: () => unknown): void }, recorded = true) {
  const dir = mkdtempSync(join(tmpdir(), 'silo-service-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SILO_HOME: join(dir, 'home'), SILO_HTTP_PORT: '18123', PM2_HOME: join(dir, 'pm2') };
  mkdirSync(env.SILO_HOME!, { mode: 0o700 });
  // What the first `silo up` does: the stack's settings recorded in its registry.
  if (recorded) await ensureDefaultServer(loadConfig(env));
  return { dir, env, units: join(dir, 'units') };
}

const oneLine = (s: string) => s.trim().split('\n').length === 1 && /^silo: /.test(s) && !/\bat .*:\d+:\d+/.test(s);

t.test('install writes a unit that systemd accepts, running silo run with the right paths and no secret', async (t) => {
  const h = await home(t);
  const env: NodeJS.ProcessEnv = { ...h.env, SILO_DATABASE_URL: SECRET, SILO_MIGRATE_CONCURRENCY: '2' };
  const r = await runCli(env, ['service', 'install', '--unit-dir', h.units]);
  t.equal(r.code, 0, r.stderr);
  const file = join(h.units, 'silo.service');
  t.match(r.stdout, `wrote ${file}`);
  const unit = readFileSync(file, 'utf8');
  t.comment(unit);
  t.match(unit, `ExecStart="${process.execPath}" "${siloBin}" run`, 'this node, this checkout, silo run');
  t.match(unit, `Environment="SILO_HOME=${env.SILO_HOME}"`);
  t.match(unit, `Environment="PM2_HOME=${env.PM2_HOME}"`, 'the PM2_HOME the stack runs with');
  t.match(unit, `User=${userInfo().username}`);
  t.match(unit, `WorkingDirectory=${process.cwd()}`);
  t.match(unit, /^Restart=on-failure$/m);
  t.match(unit, /^KillMode=mixed$/m, 'SIGTERM to silo run alone: it stops the stack in order');
  t.match(unit, /^WantedBy=multi-user.target$/m, 'started at boot once enabled');
  t.match(unit, 'Environment="SILO_MIGRATE_CONCURRENCY=2"', 'a setting the registry does not record is passed on');
  t.notMatch(unit, /SILO_HTTP_PORT/, 'recorded settings come from the registry, not the unit');
  t.notMatch(unit, /n0t-in-the-unit/, 'no secret in the unit');
  const secrets = join(env.SILO_HOME!, 'secrets', 'service-silo.env');
  t.match(unit, `EnvironmentFile=${secrets}`);
  t.equal(statSync(secrets).mode & 0o777, 0o600, 'the admin URL goes to a 0600 file');
  t.match(readFileSync(secrets, 'utf8'), `SILO_DATABASE_URL="${SECRET}"`);
  t.equal(statSync(file).mode & 0o777, 0o644);

  // systemd is not PID 1 on this machine: the unit is verified, not started.
  const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  t.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
  t.equal(verify.stderr.trim(), '', 'no warning either (an unknown directive is only a warning)');

  const again = await runCli(env, ['service', 'install', '--unit-dir', h.units]);
  t.equal(again.code, 0, 'installing again rewrites it');
  t.equal(readFileSync(file, 'utf8'), unit);

  const gone = await runCli(h.env, ['service', 'uninstall', '--unit-dir', h.units]);
  t.equal(gone.code, 0, gone.stderr);
  t.match(gone.stdout, `removed ${file}`);
  t.notOk(existsSync(file), 'the unit is gone');
  t.notOk(existsSync(secrets), 'and its secrets file');
  const twice = await runCli(h.env, ['service', 'uninstall', '--unit-dir', h.units]);
  t.equal(twice.code, 0);
  t.match(twice.stdout, 'nothing to do');
});

t.test('install refuses, in one line, a unit that could not run', async (t) => {
  const fresh = await home(t, false);
  const r = await runCli(fresh.env, ['service', 'install', '--unit-dir', fresh.units]);
  t.equal(r.code, 1);
  t.ok(oneLine(r.stderr), r.stderr);
  t.match(r.stderr, /no recorded settings yet: run silo up/);

  const h = await home(t);
  const nobody = await runCli(h.env, ['service', 'install', '--unit-dir', h.units, '--user', 'nobody']);
  t.equal(nobody.code, 1, 'the state folder is not the service user\'s');
  t.ok(oneLine(nobody.stderr), nobody.stderr);
  t.match(nobody.stderr, /nobody/);

  const unknown = await runCli(h.env, ['service', 'install', '--unit-dir', h.units, '--user', 'no-such-user-here']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /^silo: no Unix user named "no-such-user-here"$/m);

  const badName = await runCli(h.env, ['service', 'install', '--unit-dir', h.units, '--name', '../etc/x']);
  t.equal(badName.code, 1);
  t.ok(oneLine(badName.stderr), badName.stderr);

  // One unit name, one stack: another SILO_HOME does not silently take it over.
  t.equal((await runCli(h.env, ['service', 'install', '--unit-dir', h.units])).code, 0);
  const other = await home(t);
  const clash = await runCli(other.env, ['service', 'install', '--unit-dir', h.units]);
  t.equal(clash.code, 1);
  t.match(clash.stderr, /runs another stack .*--name/);
  t.equal((await runCli(other.env, ['service', 'install', '--unit-dir', h.units, '--name', 'silo-two'])).code, 0, 'under another name it goes');
  t.ok(existsSync(join(h.units, 'silo-two.service')));
});
