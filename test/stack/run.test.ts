/**
 * `silo run`: the stack in the foreground, as a container runs it. It comes up, answers
 * through the proxy, streams the apps' log lines prefixed with their names, and on
 * SIGTERM stops everything it started and exits 0, leaving no process behind.
 */
import { discardHome, hermeticEnv } from '../../src/testing/home.js';
import { seedEmbeddedServer } from '../../src/testing/pg-template.js';
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { httpRequest, processesOf } from '../helpers/stack.js';
import { runCli, siloBin } from '../helpers/silo-home.js';

async function until(what: string, ms: number, fn: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('silo run: up in the foreground, logs streamed, SIGTERM stops it cleanly', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'silo-run-'));
  const env: NodeJS.ProcessEnv = await hermeticEnv(home);
  const httpPort = Number(env.SILO_HTTP_PORT);
  t.teardown(() => discardHome(home, () => runCli(env, ['down'])));
  await seedEmbeddedServer(env);

  const child = spawn(process.execPath, [siloBin, 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  await until('silo run to say it runs', 90_000, () => /silo is running/.test(out) || child.exitCode !== null);
  t.equal(child.exitCode, null, `still in the foreground: ${out}`);
  t.match(out, /silo: created demo tenant client1/);
  for (const tenant of ['client1', 'client2']) {
    const r = await httpRequest(httpPort, `${tenant}.localhost`, '/api/tenant');
    t.same(r.json(), { tenant }, `${tenant} answers through the proxy`);
  }

  // A reload makes the worker log (closing, listening): the lines reach silo run's output.
  const reload = await runCli(env, ['reload', 'client1']);
  t.equal(reload.code, 0, reload.stderr);
  await until('the worker log lines', 10_000, () => /tenant-client1 \| \{.*"msg":"closing"/.test(out));
  t.pass('the worker log lines are streamed, prefixed with the app name');

  child.kill('SIGTERM');
  const code = await exited;
  t.equal(code, 0, `exits 0 on SIGTERM: ${out.slice(-1500)}`);
  t.match(out, /silo: SIGTERM: stopping the stack/);
  t.same(processesOf(home), [], 'no worker, proxy, database or PM2 process is left');
});
