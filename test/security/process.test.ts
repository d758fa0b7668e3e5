/**
 * Hostile tenant, the process half (issue 16): code running in evil's worker, and a
 * local unprivileged user, try to take another tenant's requests, steer the PM2 daemon,
 * bind what root binds, reach a worker or the waker without the proxy, and smuggle
 * internal headers through the proxy. Each attempt prints
 * `# figures: attack=<name> outcome=refused` and fails the test if it succeeds.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { EVIL, figures, hostileStack, runAsUser, type HostileStack } from './hostile.js';
import { pm2Cli } from '../helpers/resilience.js';
import { runPaths } from '../../src/common/run-dir.js';
import { proxyUserName } from '../../src/isolation/run-dirs.js';

t.setTimeout(170_000);

const stack = await hostileStack(t);
if (!stack) process.exit(0);
const run = runPaths(stack.home);
const STRANGER = { uid: 54321, gid: 54321 };

interface Pm2Proc {
  name: string;
  pid: number;
  pm2_env: { axm_options?: Record<string, unknown>; status: string; exec_mode: string; restart_time: number };
}
async function pm2View(s: HostileStack): Promise<Pm2Proc[]> {
  const out = (await pm2Cli(s, ['jlist'])).stdout; // PM2 may print other lines before its JSON
  return JSON.parse(out.split('\n').find((l) => l.startsWith('[')) ?? '[]') as Pm2Proc[];
}

/** A connection to a Unix socket from outside evil's worker, as `user`: 'connected' or the error code. */
function connectAs(user: { uid: number; gid: number }, path: string, request = ''): string {
  const js = `const s=require('net').connect(${JSON.stringify(path)});s.on('connect',()=>{s.write(${JSON.stringify(request)});setTimeout(()=>{console.log('connected');process.exit(0)},300)});s.on('error',e=>{console.log(e.code);process.exit(0)})`;
  return runAsUser(user, process.execPath, ['-e', js]).stdout.trim();
}

await t.test("evil's worker cannot listen on any port another process listens on, nor take its traffic", async (t) => {
  const r = await stack.runAsEvil<{ port: number; host: string; code?: string; shared?: boolean }[]>(`
    const net = require('node:net');
    const fs = require('node:fs');
    const listening = () => {
      const found = [];
      for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
        for (const line of fs.readFileSync(f, 'utf8').split('\\n').slice(1)) {
          const p = line.trim().split(/\\s+/);
          if (p[3] === '0A') found.push(parseInt(p[1].split(':')[1], 16));
        }
      }
      return found;
    };
    const ports = new Set(listening());
    globalThis.stolen = 0;
    globalThis.servers = [];
    const out = [];
    for (const port of ports) for (const host of ['127.0.0.1', '0.0.0.0']) {
      out.push(await new Promise((resolve) => {
        const s = net.createServer((c) => { globalThis.stolen++; c.destroy(); });
        s.once('error', (e) => resolve({ port, host, code: e.code }));
        // Listening worked: on a port someone else still listens on (a shared socket, the
        // attack), or on one that closed meanwhile (another test's; not an attack).
        s.listen({ port, host }, () => {
          const shared = listening().filter((p) => p === port).length >= 2;
          if (shared) globalThis.servers.push(s); else s.close();
          resolve({ port, host, shared });
        });
      }));
    }
    return out;
  `);
  const answers = r.result ?? [];
  t.ok(answers.length >= 4, `it saw the listening ports (${new Set(answers.map((a) => a.port)).size})`);
  t.ok(answers.some((a) => a.port === stack.httpPort && a.code), `the proxy's port is among them, refused (${stack.httpPort})`);
  const taken = answers.filter((a) => a.shared);
  t.same(taken, [], 'no listen joined a socket another process listens on');
  // Traffic for client1 while evil tried: every request answered by client1.
  for (let i = 0; i < 20; i++) t.same((await stack.http('client1.localhost', '/api/tenant')).json(), { tenant: 'client1' });
  const stolen = await stack.runAsEvil<number>('for (const s of globalThis.servers) s.close(); return globalThis.stolen');
  t.equal(stolen.result, 0, 'evil received no connection');
  figures(t, 'listen-on-taken-loopback-ports', taken.length === 0 && stolen.result === 0 ? 'refused' : 'succeeded', { ports: new Set(answers.map((a) => a.port)).size });
});

await t.test("evil's worker cannot bind port 81 nor make a socket in /etc", async (t) => {
  const r = await stack.runAsEvil<string[]>(`
    const net = require('node:net');
    const tryListen = (arg) => new Promise((resolve) => { const s = net.createServer(); s.once('error', (e) => resolve(e.code)); s.listen(arg, () => { s.close(); resolve('listening'); }); });
    return [await tryListen({ port: 81, host: '127.0.0.1' }), await tryListen('/etc/silo-evil.sock')];
  `);
  t.same(r.result, ['EACCES', 'EACCES']);
  figures(t, 'bind-port-81', r.result?.[0] === 'EACCES' ? 'refused' : 'succeeded');
  figures(t, 'unix-socket-in-etc', r.result?.[1] === 'EACCES' ? 'refused' : 'succeeded');
});

await t.test("evil's worker has no channel to the PM2 daemon, and every PM2 message type changes nothing", async (t) => {
  const before = await pm2View(stack);
  const types = ['axm:option:configuration', 'axm:option:setPID', 'axm:monitor', 'axm:action', 'axm:reply', 'process:msg', 'process:exception', 'human:event', 'log:out'];
  const r = await stack.runAsEvil<{ send: string; channel: boolean; connected: boolean; env: boolean; sent: number }>(`
    const types = ${JSON.stringify(types)};
    let sent = 0;
    if (typeof process.send === 'function') {
      for (const type of types) { process.send({ type, data: { name: 'tenant-client1', pid: 1 } }); sent++; }
      process.send('ready'); process.send({ node_version: 'x' }); sent += 2;
    }
    return { send: typeof process.send, channel: process.channel !== undefined, connected: process.connected === true, env: 'NODE_CHANNEL_FD' in process.env, sent };
  `);
  t.same(r.result, { send: 'undefined', channel: false, connected: false, env: false, sent: 0 }, 'no process.send, no channel, no NODE_CHANNEL_FD');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = await pm2View(stack);
  const view = (list: Pm2Proc[]) => list.map((p) => ({ name: p.name, pid: p.pid, axm: p.pm2_env.axm_options ?? {} })).sort((a, b) => a.name.localeCompare(b.name));
  t.same(view(after), view(before), "PM2's view is unchanged: names, pids, options");
  const evil = after.find((p) => p.name === `tenant-${EVIL}`)!;
  t.equal(evil.pm2_env.exec_mode, 'fork_mode', 'fork mode: PM2 is no cluster primary listening for it');
  t.equal(readFileSync(`/proc/${evil.pid}/cmdline`, 'utf8').split('\0')[0], process.execPath, 'the pid PM2 watches (max_memory_restart) is node itself, no wrapper');
  figures(t, 'pm2-ipc-messages', r.result?.send === 'undefined' && r.result.sent === 0 ? 'refused' : 'succeeded', { types: types.length + 2 });
});

await t.test("nobody but the proxy reaches client1's worker or the waker: not evil, not a local user", async (t) => {
  const client1 = run.workerSocket('client1');
  const fromEvil = await stack.runAsEvil<Record<string, string>>(`
    const net = require('node:net');
    const fs = require('node:fs');
    const attempt = (path) => new Promise((resolve) => { const s = net.connect(path); s.on('connect', () => { s.destroy(); resolve('connected'); }); s.on('error', (e) => resolve(e.code)); });
    const stat = (path) => { try { fs.statSync(path); return 'visible'; } catch (e) { return e.code; } };
    return { worker: await attempt(${JSON.stringify(client1)}), waker: await attempt(${JSON.stringify(run.wakerSocket)}), list: stat(${JSON.stringify(run.tenantDir('client1'))} + '/http.sock'), runDir: (() => { try { return String(fs.readdirSync(${JSON.stringify(run.dir)}).length); } catch (e) { return e.code; } })() };
  `);
  t.same(fromEvil.result, { worker: 'EACCES', waker: 'EACCES', list: 'EACCES', runDir: 'EACCES' }, 'evil: refused, and it cannot even list the run folder');
  figures(t, 'evil-connects-to-client1-socket', fromEvil.result?.worker === 'EACCES' ? 'refused' : 'succeeded');
  figures(t, 'evil-connects-to-waker', fromEvil.result?.waker === 'EACCES' ? 'refused' : 'succeeded');
  const stranger = { worker: connectAs(STRANGER, client1, 'GET /api/polls HTTP/1.1\r\nHost: client1.localhost\r\n\r\n'), waker: connectAs(STRANGER, run.wakerSocket) };
  t.same(stranger, { worker: 'EACCES', waker: 'EACCES' }, 'a local user: refused');
  figures(t, 'local-user-connects-to-client1-socket', stranger.worker === 'EACCES' ? 'refused' : 'succeeded');
  figures(t, 'local-user-connects-to-waker', stranger.waker === 'EACCES' ? 'refused' : 'succeeded');
});

await t.test('a local user cannot put a tenant to sleep', async (t) => {
  const answer = connectAs(STRANGER, run.wakerSocket, 'POST /_silo/sleep/client2 HTTP/1.1\r\nHost: waker\r\nContent-Length: 0\r\n\r\n');
  t.equal(answer, 'EACCES');
  const evilTry = await stack.runAsEvil<string>(`
    return await new Promise((resolve) => {
      const req = require('node:http').request({ socketPath: ${JSON.stringify(run.wakerSocket)}, method: 'POST', path: '/_silo/sleep/client2' }, (res) => resolve(String(res.statusCode)));
      req.on('error', (e) => resolve(e.code));
      req.end();
    });
  `);
  t.equal(evilTry.result, 'EACCES');
  const status = JSON.parse((await stack.cli(['status', '--json'])).stdout) as { tenants: { name: string; worker: string }[] };
  t.equal(status.tenants.find((x) => x.name === 'client2')!.worker, 'online', 'client2 is still awake');
  t.same((await stack.http('client2.localhost', '/api/tenant')).json(), { tenant: 'client2' });
  figures(t, 'local-user-sleeps-tenant', answer === 'EACCES' && evilTry.result === 'EACCES' ? 'refused' : 'succeeded');
});

await t.test("a client's own X-Silo-* and forwarding headers never reach a worker", async (t) => {
  const spoof = {
    'x-silo-tenant': 'client1',
    'x-silo-method': 'GET',
    'x-silo-connect': '0.001',
    'x-silo-body': '',
    'x-silo-woke-ms': '1',
    'x-forwarded-for': '6.6.6.6',
    'x-real-ip': '6.6.6.6',
    forwarded: 'for=6.6.6.6',
    'x-forwarded-host': 'client1.localhost',
  };
  const r = await stack.http(`${EVIL}.localhost`, '/_evil/headers', { headers: spoof });
  const seen = r.json() as { headers: Record<string, string>; ip: string };
  const smuggled = Object.keys(seen.headers).filter((h) => h.startsWith('x-silo-') || h === 'forwarded');
  t.same(smuggled, [], 'no X-Silo-* nor Forwarded header reached the worker');
  t.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'X-Forwarded-For is the peer nginx saw');
  t.equal(seen.headers['x-forwarded-host'], `${EVIL}.localhost`);
  t.equal(seen.ip, '127.0.0.1', 'the worker believes the proxy, not the client');
  figures(t, 'client-sends-internal-headers', smuggled.length === 0 && seen.ip === '127.0.0.1' ? 'refused' : 'succeeded');
});

await t.test('a client cannot have a POST that reached a worker replayed (X-Silo-Method: GET)', async (t) => {
  await stack.runAsEvil('await sql`create table if not exists hits (n int)`; await sql`truncate hits`');
  // The request is taken by evil's worker, writes, and the worker dies before answering.
  const r = await stack.http(`${EVIL}.localhost`, '/_evil', {
    method: 'POST',
    headers: { 'x-silo-method': 'GET', 'x-silo-connect': '-' },
    body: { js: 'await sql`insert into hits values (1)`; process.kill(process.pid, "SIGKILL")' },
  });
  t.equal(r.status, 502, `not replayed: ${r.text.slice(0, 100)}`);
  let hits: number | undefined;
  for (let i = 0; i < 100 && hits === undefined; i++) {
    const h = await stack.runAsEvil<{ n: number }[]>('return await sql`select count(*)::int as n from hits`').catch(() => undefined);
    hits = h?.result?.[0]?.n;
    if (hits === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(hits, 1, 'the write happened once');
  figures(t, 'replay-crashed-post', r.status === 502 && hits === 1 ? 'refused' : 'succeeded');
});

await t.test("the proxy's workers run as the proxy's own unprivileged user", async (t) => {
  const user = proxyUserName(stack.home);
  const pid = Number(readFileSync(`${stack.home}/proxy/nginx/nginx.pid`, 'utf8'));
  const workers = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid);
    } catch {
      return false;
    }
  });
  t.ok(workers.length > 0, 'nginx has workers');
  const uids = workers.map((p) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]));
  const expected = Number(/^[^:]+:x:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`)) ?? '')?.[1]);
  t.ok(expected > 0, `${user} exists`);
  t.same([...new Set(uids)], [expected], `every nginx worker runs as ${user}`);
  figures(t, 'proxy-workers-privileged', uids.every((u) => u === expected) ? 'refused' : 'succeeded');
});
