/**
 * A real Prometheus (Debian's package) scrapes silo's /metrics and answers queries about
 * a real stack: requests a tenant served through nginx (by status class), its state,
 * a wake of a tenant put to sleep, the database server's max_connections. Prometheus
 * runs with its own config, data folder and free port, and is stopped by its pid.
 * The endpoint is the control API's (SILO_CONTROL=on) with a read token, as an operator
 * sets it up; the control API listens on a Unix socket, which Prometheus cannot scrape,
 * so the test forwards a loopback port to it (bytes only; what a local forwarder or the
 * proxy does in production).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Socket } from 'node:net';
import { startStack } from '../helpers/stack.js';
import { waitUntil } from '../helpers/resilience.js';
import { freePort } from '../../src/common/ports.js';
import { runPaths } from '../../src/common/run-dir.js';

async function stopByPid(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid!, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

t.test('Prometheus scrapes silo and answers for one tenant', async (t) => {
  const stack = await startStack(t, { proxy: 'nginx', env: { SILO_CONTROL: 'on' } });
  const made = await stack.cli(['token', 'create', '--scope', 'read']);
  t.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim().split('\n').at(-1)!;

  // A loopback port forwarded to the control API's socket.
  const socket = runPaths(stack.home).controlSocket;
  const open = new Set<Socket>();
  const forwarder = createServer((client) => {
    const upstream = connect(socket);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  const apiPort = await freePort();
  await new Promise<void>((r) => forwarder.listen(apiPort, '127.0.0.1', r));
  t.teardown(async () => {
    for (const s of open) s.destroy();
    await new Promise((r) => forwarder.close(r));
  });
  await waitUntil('the control API answers', 30_000, async () => (await stack.http('127.0.0.1', '/metrics', { port: apiPort }).catch(() => undefined))?.status === 401, 250);
  const direct = await stack.http('127.0.0.1', '/metrics', { port: apiPort, headers: { authorization: `Bearer ${token}` } });
  t.equal(direct.status, 200, 'a read token may scrape');
  t.match(direct.headers['content-type'], /^text\/plain; version=0\.0\.4/);

  const dir = mkdtempSync(join(tmpdir(), 'silo-prometheus-'));
  const promPort = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', '  - job_name: silo', '    authorization:', `      credentials_file: ${join(dir, 'token')}`, '    static_configs:', `      - targets: ['127.0.0.1:${apiPort}']`, ''].join('\n'),
  );
  writeFileSync(join(dir, 'token'), token + '\n', { mode: 0o600 });
  const prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let promLog = '';
  prom.stderr!.on('data', (c: Buffer) => (promLog = (promLog + c.toString()).slice(-4000)));
  t.teardown(async () => {
    await stopByPid(prom);
    rmSync(dir, { recursive: true, force: true });
  });

  /** One instant query through Prometheus' HTTP API: the value of the single series, or undefined. */
  const query = async (q: string): Promise<number | undefined> => {
    const r = await stack.http('127.0.0.1', `/api/v1/query?query=${encodeURIComponent(q)}`, { port: promPort }).catch(() => undefined);
    if (r?.status !== 200) return undefined;
    const result = r.json().data.result as { value: [number, string] }[];
    return result.length === 1 ? Number(result[0]!.value[1]) : undefined;
  };
  const settles = async (what: string, q: string, want: number) => {
    let last: number | undefined;
    try {
      await waitUntil(what, 60_000, async () => (last = await query(q)) === want, 250);
    } catch (err) {
      t.fail(`${what}: Prometheus said ${last} for ${q}, not ${want} (its log: ${promLog.trim() || 'empty'})`);
      throw err;
    }
    t.pass(`${what}: ${q} = ${want}`);
  };

  await settles('the scrape target is up', 'up{job="silo"}', 1);
  await settles('client1 is awake', 'silo_tenant_state{tenant="client1",state="awake"}', 1);
  // Whatever client1 served so far (silo up's own checks), then exactly N more.
  const ok = 'silo_tenant_requests_total{tenant="client1",class="2xx"}';
  const missing = 'sum(silo_tenant_requests_total{tenant="client1",class="4xx"}) or vector(0)';
  await waitUntil('a first count of client1', 60_000, async () => (await query(ok)) !== undefined, 250);
  const before2xx = (await query(ok))!;
  const before4xx = (await query(missing)) ?? 0;
  const N = 7;
  for (let i = 0; i < N; i++) t.equal((await stack.http('client1.localhost', '/api/polls')).status, 200);
  t.equal((await stack.http('client1.localhost', '/api/polls/999999')).status, 404);
  await settles(`client1's ${N} requests arrive in Prometheus`, ok, before2xx + N);
  await settles('and its 404', missing, before4xx + 1);
  await settles('its latency histogram counts them all', 'silo_tenant_request_duration_seconds_count{tenant="client1"} - on() sum(silo_tenant_requests_total{tenant="client1"})', 0);

  // A wake: put client2 to sleep, then a request through nginx wakes it.
  const slept = await stack.cli(['tenant', 'sleep', 'client2']);
  t.equal(slept.code, 0, slept.stderr);
  await settles('client2 is hibernated', 'silo_tenant_state{tenant="client2",state="hibernated"}', 1);
  t.equal((await stack.http('client2.localhost', '/api/tenant')).status, 200);
  await settles('its wake is counted', 'silo_tenant_wakes_total{tenant="client2",result="ok"}', 1);
  await settles('and timed', 'silo_tenant_wake_duration_seconds_count{tenant="client2"}', 1);

  await settles('the database server answers', 'silo_server_up{server="local"}', 1);
  const max = await query('silo_server_max_connections{server="local"}');
  t.ok(max !== undefined && max > 0, `max_connections of local: ${max}`);
  const size = await query('silo_tenant_database_bytes{tenant="client1"}');
  t.ok(size !== undefined && size > 0, `client1's database: ${size} bytes`);
  t.ok((await query('silo_tenant_memory_bytes{tenant="client1"}'))! > 0, "client1's worker memory");
  t.ok((await query('silo_tenant_cpu_seconds_total{tenant="client1"}'))! > 0, "client1's worker CPU seconds");
});
