/**
 * Root-safe start: as root, with the project cloned into a private folder (0700, like
 * /root) and with SILO_HOME in a private temporary folder, the README's start command
 * (`npm install && npm start`) brings the stack up, and no private folder's mode changes.
 * A SILO_HOME nested inside someone else's private folder is one line naming the fix.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/ports.js';
import { defaultHome } from '../../src/common/config.js';
import { httpRequest, processesOf } from '../helpers/stack.js';
import { root } from '../helpers/silo-home.js';
import { forgetHome } from '../../src/isolation/cleanup.js';

t.setTimeout(300_000);

if (process.getuid?.() !== 0) {
  t.plan(0, 'runs only as root');
  process.exit(0);
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

// One private folder holding a clone of this repository (its committed HEAD) with this
// checkout's node_modules copied in (npm install then has nothing to fetch).
const priv = mkdtempSync(join(tmpdir(), 'silo-private-'));
const project = join(priv, 'silo');
const cleanup: string[] = [priv];
t.teardown(() => {
  for (const pid of processesOf(priv)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const dir of cleanup) {
    rmSync(dir, { recursive: true, force: true });
    forgetHome(dir);
  }
});
execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, project]);
cpSync(join(root, 'node_modules'), join(project, 'node_modules'), { recursive: true, verbatimSymlinks: true });
t.equal(mode(priv), '700', 'the clone lives in a 0700 folder');

async function baseEnv(): Promise<NodeJS.ProcessEnv> {
  return {
    PATH: process.env.PATH,
    HOME: priv,
    LANG: process.env.LANG,
    PM2_HOME: join(priv, `pm2-${await freePort()}`),
    SILO_HTTP_PORT: String(await freePort()),
    SILO_PG_PORT: String(await freePort()),
    SILO_WORKER_PORT_BASE: String(20000 + Math.floor(Math.random() * 12000)),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
  };
}

async function startAndCheck(t: Test, env: NodeJS.ProcessEnv, home: string, install = true) {
  if (install) {
    const i = await sh('npm', ['install'], project, env);
    t.equal(i.code, 0, 'npm install succeeds', { output: i.out.slice(-2000) });
  }
  const start = await sh('npm', ['start'], project, env);
  t.teardown(() => sh(process.execPath, ['bin/silo.js', 'down'], project, env));
  t.equal(start.code, 0, 'npm start succeeds', { output: start.out.slice(-2000) });
  t.notMatch(start.out, /EACCES|\n\s+at /, 'no permission error, no stack trace');
  const r = await httpRequest(Number(env.SILO_HTTP_PORT), 'client1.localhost', '/api/tenant');
  t.equal(r.status, 200, 'client1 answers through the proxy');
  t.same(r.status === 200 ? r.json() : undefined, { tenant: 'client1' });
  t.ok(existsSync(join(home, 'postgres', 'local', 'PG_VERSION')), `the data lives in ${home}`);
  t.equal(mode(priv), '700', 'the private folder is still 0700');
  const status = await sh(process.execPath, ['bin/silo.js', 'status', '--json'], project, env);
  const workers = (JSON.parse(status.out) as { tenants: { name: string; user?: string }[] }).tenants;
  t.ok(workers.length === 2 && workers.every((w) => w.user && w.user !== 'root' && w.user.endsWith(`-${w.name}`)), 'each worker runs as its own user', { workers });
  const stop = await sh('npm', ['stop'], project, env);
  t.equal(stop.code, 0, 'npm stop succeeds');
}

await t.test('npm install && npm start as root from a 0700 folder', async (t) => {
  const env = await baseEnv();
  const home = defaultHome(project);
  cleanup.push(home);
  t.notOk(home.startsWith(priv), `the state goes outside the private folder: ${home}`);
  await startAndCheck(t, env, home);
});

await t.test('npm start as root with SILO_HOME=$(mktemp -d)', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'silo-home-private-'));
  cleanup.push(home);
  t.equal(mode(home), '700');
  await startAndCheck(t, { ...(await baseEnv()), SILO_HOME: home }, home, false); // installed above
});

await t.test('a SILO_HOME inside a private folder is one line with the fix', async (t) => {
  const env = { ...(await baseEnv()), SILO_HOME: join(priv, 'nested-home') };
  const r = await sh(process.execPath, ['bin/silo.js', 'up'], project, env, 60_000);
  t.equal(r.code, 1, 'exit 1');
  t.match(r.out, /^silo: the (postgres user|release check's user) cannot reach .*: .* \(mode 0700\) is private; as root, keep SILO_HOME outside private folders/, 'names the folder and the fix');
  t.equal(r.out.trim().split('\n').length, 1, 'one line');
});
