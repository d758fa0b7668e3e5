/**
 * A hermetic silo stack for the benchmark, driven with the real CLI (`node bin/silo.js`)
 * as test/helpers/stack.ts does: its own SILO_HOME and PM2_HOME in a temp folder, free
 * ports (never 8080, never ~/.pm2), and a teardown that runs `silo down`, checks that no
 * process mentioning the temp folder is left, and purges what the stack made on the host.
 */
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { processesOf } from './procs.mjs';
import { forgetHome } from '../../dist/isolation/cleanup.js';
import { httpRequest, now, run, sleep, waitExit, waitUntil } from './util.mjs';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const siloBin = join(root, 'bin', 'silo.js');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function createStack({ poolMax = 4 } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'silo-bench-'));
  const httpPort = await freePort();
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    SILO_HOME: home,
    PM2_HOME: join(home, 'pm2'),
    SILO_HTTP_PORT: String(httpPort),
    SILO_PG_PORT: String(await freePort()),
    // Below Linux's ephemeral range (32768-60999): a worker port inside it can be taken
    // by any outgoing connection between allocation and listen (seen once: EADDRINUSE,
    // PM2 restart loop, `tenant create` timed out). 50 tenants fit below 32768.
    SILO_WORKER_PORT_BASE: String(20000 + Math.floor(Math.random() * 12000)),
    SILO_PROXY: 'nginx',
    SILO_POOL_MAX: String(poolMax),
  };
  const children = new Set();
  const cliLog = [];

  // Once teardown has begun (Ctrl-C), no new command may start: one started after
  // `silo down` (the bench's main flow goes on until the process exits) would bring the
  // PM2 daemon and PostgreSQL back and leave them running.
  let closing = false;
  const running = new Set();

  /** Run `silo <args>`; throws with its stderr on a non-zero exit unless `allowFail`. */
  async function cli(args, extra = {}, { allowFail = false, teardown = false } = {}) {
    if (closing && !teardown) throw new Error(`interrupted: not starting silo ${args.join(' ')}`);
    const start = now();
    const r = await run(process.execPath, [siloBin, ...args], {
      env: { ...env, ...extra },
      cwd: root,
      onChild: (child) => {
        running.add(child);
        child.once('exit', () => running.delete(child));
      },
    });
    const ms = now() - start;
    cliLog.push({ args, extra, code: r.code, ms: Math.round(ms), stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-2000) });
    if (r.code !== 0 && !allowFail) throw new Error(`silo ${args.join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(-500)}`);
    return { ...r, ms };
  }

  const registry = () => JSON.parse(readFileSync(join(home, 'registry.json'), 'utf8'));

  async function status(extra = {}) {
    const r = await cli(['status', '--json'], extra);
    return JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  }

  /** A bench-owned node child (reference server, bare Fastify), stdout to a log file. */
  async function startChild(name, script, childEnv, probe) {
    const logFile = join(home, `${name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH, SILO_HOME: home, ...childEnv },
      cwd: root,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    children.add(child);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      children.delete(child);
    });
    await waitUntil(`${name} to answer`, 15_000, async () => {
      if (exited) throw new Error(`${name} exited; see ${logFile}: ${readFileSync(logFile, 'utf8').slice(-500)}`);
      return (await httpRequest(probe.port, probe.host, probe.path)).status === 200;
    });
    return {
      pid: child.pid,
      async stop() {
        if (exited) return;
        child.kill('SIGTERM');
        if (!(await waitExit(child.pid, 5000))) child.kill('SIGKILL');
      },
    };
  }

  /**
   * `silo down`, stop bench children, then wait until no process mentions SILO_HOME.
   * Whatever is left after 15 s is a leak: reported, then killed by pid.
   */
  async function teardown({ keepHome = false } = {}) {
    closing = true;
    const result = { down: null, leftovers: [] };
    // A command still running (Ctrl-C reached it too, or only the bench got the signal)
    // finishes or stops before `silo down`, so nothing it starts outlives the teardown.
    const started = now();
    while (running.size > 0 && now() - started < 20_000) await sleep(100);
    for (const child of running) {
      child.kill('SIGTERM');
      if (!(await waitExit(child.pid, 5000))) child.kill('SIGKILL');
    }
    for (const child of children) {
      child.kill('SIGTERM');
      if (!(await waitExit(child.pid, 5000))) child.kill('SIGKILL');
    }
    try {
      result.down = await cli(['down'], {}, { allowFail: true, teardown: true });
    } catch (err) {
      result.down = { code: -1, stderr: String(err) };
    }
    const start = now();
    let left = processesOf(home);
    while (left.length > 0 && now() - start < 15_000) {
      await sleep(200);
      left = processesOf(home);
    }
    result.leftovers = left;
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    // Nothing of the stack stays on the host: `silo down --purge` removes its tenant users
    // and groups, control groups and folder. A kept folder (to read after a failure) loses
    // only the users and groups.
    if (!keepHome) {
      const purged = await cli(['down', '--purge', '--yes'], {}, { allowFail: true, teardown: true });
      if (purged.code !== 0) result.purge = purged.stderr.trim();
      rmSync(home, { recursive: true, force: true });
    } else {
      forgetHome(home);
    }
    return result;
  }

  return { home, env, httpPort, cli, cliLog, registry, status, startChild, teardown };
}
