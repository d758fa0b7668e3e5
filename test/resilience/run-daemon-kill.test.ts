/**
 * Scenario: `kill -9` of the PM2 daemon under `silo run` (the stack as systemd or a
 * container runs it), with load on the awake tenants. Nobody runs `silo up`: `silo run`
 * starts a new daemon and brings the awake tenants back by itself, and stays in the
 * foreground. A hibernated tenant is not started by that (1,000 registered tenants must not
 * mean 1,000 starts at once): it wakes on its first request. The figures (failed requests,
 * time until every tenant serves again) are printed, not asserted: the machine is shared.
 * (test/resilience/process-kill.test.ts kills the daemon of a stack started with `silo up`,
 * which nothing supervises: there `silo up` brings it back.)
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { discardHome, hermeticEnv } from '../../src/testing/home.js';
import { seedEmbeddedServer } from '../../src/testing/pg-template.js';
import { processesOf } from '../helpers/stack.js';
import { runCli, siloBin } from '../helpers/silo-home.js';
import { printFigures, send, sleep, tenantLoad, waitUntil } from '../helpers/resilience.js';

t.setTimeout(300_000);

const AWAKE = ['client1', 'client2'];

t.test('kill -9 of the PM2 daemon under silo run: every awake tenant serves again with no human action', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'silo-run-kill-'));
  const env: NodeJS.ProcessEnv = await hermeticEnv(home);
  const httpPort = Number(env.SILO_HTTP_PORT);
  const running: { child?: ReturnType<typeof spawn> } = {};
  t.teardown(async () => {
    // A silo run still in the foreground (a failed check) goes first, or it would bring
    // back what `down` stops.
    const c = running.child;
    if (c && c.exitCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
    await discardHome(home, () => runCli(env, ['down']));
  });
  await seedEmbeddedServer(env);

  const child = spawn(process.execPath, [siloBin, 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.child = child;
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitUntil('silo run to say it runs', 120_000, () => /silo is running/.test(out) || child.exitCode !== null, 200);
  t.equal(child.exitCode, null, `silo run is in the foreground: ${out.slice(-1500)}`);

  // A third tenant, hibernated: the recovery must leave it asleep.
  const created = await runCli(env, ['tenant', 'create', 'sleepy']);
  t.equal(created.code, 0, created.stderr);
  const slept = await runCli(env, ['tenant', 'sleep', 'sleepy']);
  t.equal(slept.code, 0, slept.stderr);

  const allServe = async () => (await Promise.all(AWAKE.map((n) => send(httpPort, `${n}.localhost`, '/api/polls', { timeoutMs: 5000 })))).every((a) => a.status === 200);
  await waitUntil('every awake tenant to serve', 60_000, allServe, 200);

  const pidFile = join(env.PM2_HOME!, 'pm2.pid');
  const oldDaemon = Number(readFileSync(pidFile, 'utf8').trim());
  const loads = AWAKE.map((n) => tenantLoad(httpPort, n, { concurrency: 2, path: '/api/polls' }));
  await sleep(1000);
  const before = out.length;
  // Probes beside the load, to know when the last request failed.
  let lastFailedAt = 0;
  let probing = true;
  const probe = (async () => {
    while (probing) {
      if (!(await allServe().catch(() => false))) lastFailedAt = performance.now();
      await sleep(100);
    }
  })();
  process.kill(oldDaemon, 'SIGKILL');
  const killedAt = performance.now();
  // Generous bounds, so a loaded machine never fails them: the times are the figures.
  await waitUntil('silo run to say the stack is back', 150_000, () => /the stack is back after/.test(out.slice(before)) || child.exitCode !== null, 100);
  await waitUntil('every awake tenant to serve again', 60_000, allServe, 100);
  const recoveryMs = performance.now() - killedAt;
  await sleep(1000);
  probing = false;
  await probe;
  const reports = await Promise.all(loads.map((l) => l.stop()));
  const sent = reports.reduce((n, r) => n + r.sent, 0);
  const failed = reports.reduce((n, r) => n + r.failed, 0);
  const wrong = reports.reduce((n, r) => n + r.wrong, 0);
  const lastFailedMs = lastFailedAt > killedAt ? lastFailedAt - killedAt : 0;
  printFigures(t, 'kill-pm2-daemon-under-run', { sent, failed, wrongTenant: wrong, recoveryMs, lastFailedMs });
  t.comment(`errors seen: ${[...new Set(reports.flatMap((r) => r.errors))].slice(0, 5).join(' | ')}`);
  const said = out.slice(before).split('\n').filter((l) => l.startsWith('silo: '));
  t.comment(said.join(' | '));

  t.equal(child.exitCode, null, 'silo run is still in the foreground');
  t.match(out.slice(before), /silo: the PM2 daemon is gone: starting a new one and bringing the stack back/);
  const newDaemon = Number(readFileSync(pidFile, 'utf8').trim());
  t.not(newDaemon, oldDaemon, 'a new PM2 daemon runs');
  // One daemon for this PM2_HOME: an orphaned waker must not have started one of its own.
  const daemons = processesOf(home).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('God Daemon');
    } catch {
      return false;
    }
  });
  t.same(daemons, [newDaemon], 'exactly one PM2 daemon, the one pm2.pid names');
  t.equal(wrong, 0, 'no request reached another tenant');
  t.ok(await allServe(), 'every awake tenant serves');

  // The hibernated tenant was not started by the recovery; its first request wakes it.
  t.notMatch(said.join('\n'), /started tenant-sleepy/, 'the recovery did not start the hibernated tenant');
  const status = JSON.parse((await runCli(env, ['status', '--json'])).stdout) as { tenants: { name: string; worker: string }[] };
  t.equal(status.tenants.find((x) => x.name === 'sleepy')?.worker, 'hibernated', 'still hibernated after the recovery');
  const woke = await send(httpPort, 'sleepy.localhost', '/api/tenant', { timeoutMs: 60_000 });
  t.equal(woke.status, 200, `its first request wakes it: ${woke.text.slice(0, 200)}`);

  // The log lines of the new daemon's apps reach silo run's output again.
  const reload = await runCli(env, ['reload', 'client1']);
  t.equal(reload.code, 0, reload.stderr);
  await waitUntil('the worker log lines', 20_000, () => /tenant-client1 \| \{.*"msg":"closing"/.test(out.slice(before)), 200);
  t.pass('the apps of the new daemon are streamed');

  // `silo down` from another shell is an operator's wish, not a crash: silo run exits 0
  // (test/stack/run.test.ts stops it with SIGTERM).
  const down = await runCli(env, ['down']);
  t.equal(down.code, 0, down.stderr);
  const code = await Promise.race([exited, sleep(60_000).then(() => 'still running')]);
  if (code === 'still running') child.kill('SIGTERM'); // then the teardown's checks run on a stopped stack
  t.equal(code, 0, `exits 0 after silo down: ${out.slice(-1500)}`);
  t.match(out, /silo: the stack was stopped \(silo down\): exiting/);
  t.same(processesOf(home), [], 'no worker, proxy, database or PM2 process is left');
});
