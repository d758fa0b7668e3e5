/**
 * Scenario: the stack's own processes killed under load, one at a time, with SIGKILL:
 * the embedded PostgreSQL's main process, the proxy (nginx master), and the PM2 daemon.
 * For each: how long until every tenant serves a database-backed request through the
 * proxy again, and what `silo status` said meanwhile. PostgreSQL and the proxy come back
 * by themselves (PM2); after the daemon itself is gone, `silo up` brings everything back.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, processesOf } from '../helpers/stack.js';
import { printFigures, send, sleep, tenantLoad, waitUntil } from '../helpers/resilience.js';
import { isAlive } from '../../src/common/processes.js';

t.setTimeout(170_000);

const stack = await startStack(t);
const TENANTS = ['client1', 'client2'];

interface StatusView {
  up: boolean;
  proxy: { status: string; pm2: string };
  servers: { name: string; status: string; pm2?: string; restarts?: number }[];
}

async function status(): Promise<StatusView> {
  const r = await stack.cli(['status', '--json']);
  if (r.code !== 0) throw new Error(`silo status failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Every tenant answers a database-backed request through the proxy. */
async function allServe(): Promise<boolean> {
  const answers = await Promise.all(TENANTS.map((tenant) => send(stack.httpPort, `${tenant}.localhost`, '/api/polls', { timeoutMs: 5000 })));
  return answers.every((a) => a.status === 200);
}

/** Kill, then probe every 50 ms until all serve; sample `silo status` once while they do not. */
async function killAndRecover(kill: () => void, recover?: () => Promise<void>) {
  const loads = TENANTS.map((tenant) => tenantLoad(stack.httpPort, tenant, { concurrency: 2, path: '/api/polls' }));
  await sleep(1000);
  kill();
  const killedAt = performance.now();
  const sampled = status(); // what an operator running `silo status` now would read
  await recover?.();
  const recoveryMs = await waitUntil('every tenant to serve again', 60_000, allServe, 50).then(() => performance.now() - killedAt);
  const during = await sampled;
  await sleep(1000);
  const reports = await Promise.all(loads.map((l) => l.stop()));
  const after = await status();
  return { recoveryMs, during, after, sent: reports.reduce((n, r) => n + r.sent, 0), failed: reports.reduce((n, r) => n + r.failed, 0), wrong: reports.reduce((n, r) => n + r.wrong, 0) };
}

const say = (s: StatusView) => `proxy=${s.proxy.status}/pm2:${s.proxy.pm2},db=${s.servers[0]!.status}/pm2:${s.servers[0]!.pm2}`;

t.test('kill -9 of the embedded PostgreSQL: status says down, PM2 restarts it, tenants serve again', async (t) => {
  const pgPid = Number(readFileSync(join(stack.home, 'postgres', 'local', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const before = await status();
  const r = await killAndRecover(() => process.kill(pgPid, 'SIGKILL'));
  printFigures(t, 'kill-postgres', { sent: r.sent, failed: r.failed, wrongTenant: r.wrong, recoveryMs: r.recoveryMs, statusDuring: say(r.during) });
  // PM2 often has postgres back before a `silo status` process has even started, so what
  // it said during this outage is a figure, not a check: the frozen-server test below
  // checks that status asks the server itself.
  t.equal(r.after.servers[0]!.status, 'online');
  t.ok((r.after.servers[0]!.restarts ?? 0) > (before.servers[0]!.restarts ?? 0), 'PM2 restarted its wrapper');
  t.equal(r.wrong, 0);
  // That it served again is proven by waitUntil (it throws after 60 s); how soon is the recoveryMs figure.
});

t.test('status asks the server itself: a frozen PostgreSQL that PM2 shows online is reported down', async (t) => {
  const pgPid = Number(readFileSync(join(stack.home, 'postgres', 'local', 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(pgPid, 'SIGSTOP'); // alive to PM2, answers nobody
  t.teardown(() => {
    try {
      process.kill(pgPid, 'SIGCONT');
    } catch {
      // gone
    }
  });
  const frozen = await status();
  process.kill(pgPid, 'SIGCONT');
  t.equal(frozen.servers[0]!.pm2, 'online', 'PM2 sees its wrapper online');
  t.equal(frozen.servers[0]!.status, 'down', 'status says down, from a real connection');
  await waitUntil('the database to answer again', 30_000, allServe, 50);
  t.equal((await status()).servers[0]!.status, 'online', 'and online once it answers again');
});

t.test('kill -9 of the nginx master: PM2 restarts it; the old workers do not outlive the next change', async (t) => {
  const masterPid = Number(readFileSync(join(stack.home, 'proxy', 'nginx', 'nginx.pid'), 'utf8').trim());
  const r = await killAndRecover(() => process.kill(masterPid, 'SIGKILL'));
  printFigures(t, 'kill-proxy', { sent: r.sent, failed: r.failed, wrongTenant: r.wrong, recoveryMs: r.recoveryMs, statusDuring: say(r.during) });
  t.equal(r.after.proxy.status, 'online');
  t.equal(r.wrong, 0);
  // A tenant created now is served at once: no leftover worker answers with the old config.
  const created = await stack.cli(['tenant', 'create', 'after-proxy-kill']);
  t.equal(created.code, 0, created.stderr);
  for (let i = 0; i < 20; i++) {
    const a = await send(stack.httpPort, 'after-proxy-kill.localhost', '/api/tenant');
    t.equal(a.status, 200, `request ${i} reaches the new tenant`);
    if (a.status !== 200) break;
  }
});

t.test('kill -9 of the PM2 daemon: status says so; silo up brings every tenant back', async (t) => {
  const godPid = Number(readFileSync(join(stack.env.PM2_HOME!, 'pm2.pid'), 'utf8').trim());
  let upMs = 0;
  const r = await killAndRecover(
    () => process.kill(godPid, 'SIGKILL'),
    async () => {
      await sleep(500);
      const start = performance.now();
      const up = await stack.cli(['up']);
      upMs = performance.now() - start;
      t.equal(up.code, 0, `silo up after the daemon died: ${up.stderr}`);
      t.comment(up.stdout.trim().split('\n').join(' | '));
    },
  );
  printFigures(t, 'kill-pm2-daemon', { sent: r.sent, failed: r.failed, wrongTenant: r.wrong, recoveryMs: r.recoveryMs, upMs, statusDuring: say(r.during) });
  t.equal(r.during.proxy.pm2, 'stopped', 'status does not pretend PM2 still runs the proxy');
  t.equal(r.after.proxy.status, 'online');
  t.equal(r.after.servers[0]!.status, 'online');
  t.equal(r.wrong, 0);
});

t.test('after the PM2 daemon dies, silo down stops what it left running', async (t) => {
  const godPid = Number(readFileSync(join(stack.env.PM2_HOME!, 'pm2.pid'), 'utf8').trim());
  process.kill(godPid, 'SIGKILL');
  // Exited: a zombie counts (whoever reaps it may take its time: a slow init, a PID namespace's).
  await waitUntil('the daemon to exit', 10_000, () => !isAlive(godPid));
  const down = await stack.cli(['down']);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stdout, /stopped nginx \(pid \d+\), left running without PM2/, 'the orphaned proxy');
  t.comment(down.stdout.trim().split('\n').join(' | '));
  await waitUntil('every process of the stack to exit', 15_000, () => processesOf(stack.home).length === 0).catch((err: Error) => {
    const left = processesOf(stack.home).map((pid) => {
      try {
        return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120)}`;
      } catch {
        return String(pid);
      }
    });
    throw new Error(`${err.message}: ${left.join('; ')}`);
  });
  t.same(processesOf(stack.home), [], 'nothing of the stack is left');
  t.not((await send(stack.httpPort, 'client1.localhost', '/api/tenant')).status, 200, 'the port is free');
});
