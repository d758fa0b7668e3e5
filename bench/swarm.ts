/**
 * `npm run bench:swarm`: the same three figures for the two runtimes, one after the other:
 * PM2 on this host (SILO_RUNTIME=pm2, the embedded server) and a swarm of three hosts
 * (SILO_RUNTIME=swarm on test/helpers/hosts.ts: network namespaces with their own
 * dockerd; PostgreSQL as a service on node2, images from scripts/offline-images).
 *
 * - tenant create to its first 200 through nginx (SWARM_CREATES tenants, default 3);
 * - wake: `silo tenant sleep`, then the time of the first GET /api/polls until 200
 *   (PM2: the process starts; swarm: the service scales 0 -> 1, a task starts and is healthy);
 * - request rate: GET /api/polls through nginx, autocannon, 10 connections, 8 s, one tenant
 *   (swarm: the worker on another node than the edge).
 *
 * On the swarm, requests go to the edge service (SILO_EDGE_PORT, the proxy as a Swarm
 * service) on node3, from node1, where silo's commands run (the control host): a new
 * tenant reaches the edge with its agent's next fetch of the routes (every second). Writes bench/results/swarm-latest.md and .json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { offlineImages, startHosts } from '../test/helpers/hosts.js';
import { discardHome } from '../src/testing/home.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const silo = join(root, 'bin', 'silo.js');
const autocannon = join(root, 'node_modules', 'autocannon', 'autocannon.js');
const creates = Number(process.env.SWARM_CREATES ?? 3);
const seconds = Number(process.env.SWARM_SECONDS ?? 8);
const EDGE_PORT = 8090;
const log = (line: string) => process.stderr.write(`[swarm] ${line}\n`);

interface Exec {
  (cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
}

const execIn =
  (ns?: string): Exec =>
  (cmd, args, env) =>
    new Promise((resolve) => {
      const [c, a] = ns ? ['nsenter', [`--net=/run/netns/${ns}`, '--', cmd, ...args]] : [cmd, args];
      const child = spawn(c as string, a as string[], { env: env ?? process.env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });

interface Figures {
  createMs: number[];
  wakeMs: number[];
  reqPerS: number;
  p99Ms: number;
  errors: number;
}

async function measure(exec: Exec, env: NodeJS.ProcessEnv, proxy: string, rateTenant: string): Promise<Figures> {
  const cli = async (args: string[]) => {
    const r = await exec(process.execPath, [silo, ...args], env);
    if (r.code !== 0) throw new Error(`silo ${args.join(' ')}: ${r.stderr || r.stdout}`);
    return r;
  };
  const status = async (host: string) => (await exec('curl', ['-s', '-o', '/dev/null', '-m', '30', '-w', '%{http_code}', '-H', `Host: ${host}`, `${proxy}/api/polls`])).stdout;
  const firstOk = async (host: string, start: number) => {
    for (;;) {
      if ((await status(host)) === '200') return performance.now() - start;
      if (performance.now() - start > 180_000) throw new Error(`${host}: no 200 within 180 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const createMs: number[] = [];
  for (let i = 0; i < creates; i++) {
    const name = `bench${i}`;
    const start = performance.now();
    await cli(['tenant', 'create', name]);
    createMs.push(await firstOk(`${name}.localhost`, start));
    log(`create ${name}: ${Math.round(createMs.at(-1)!)} ms`);
  }
  const wakeMs: number[] = [];
  for (let i = 0; i < creates; i++) {
    const host = `bench${i}.localhost`;
    await cli(['tenant', 'sleep', `bench${i}`]);
    wakeMs.push(await firstOk(host, performance.now()));
    log(`wake bench${i}: ${Math.round(wakeMs.at(-1)!)} ms`);
  }
  const r = await exec(process.execPath, [autocannon, '-j', '-c', '10', '-d', String(seconds), '-H', `host=${rateTenant}.localhost`, `${proxy}/api/polls`]);
  const a = JSON.parse(r.stdout) as { requests: { average: number }; latency: { p99: number }; errors: number; non2xx: number };
  log(`rate on ${rateTenant}: ${a.requests.average} req/s`);
  return { createMs, wakeMs, reqPerS: a.requests.average, p99Ms: a.latency.p99, errors: a.errors + a.non2xx };
}

const teardowns: (() => unknown)[] = [];
const harness = { teardown: (fn: () => unknown) => teardowns.push(fn), comment: (...a: unknown[]) => log(a.join(' ')) };
const results: Record<string, Figures> = {};
const load = loadavg()[0]!.toFixed(1);
let code = 0;
try {
  // PM2, one host.
  {
    const home = mkdtempSync(join(tmpdir(), 'silo-bench-pm2-'));
    const port = 18000 + Math.floor(Math.random() * 2000);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', SILO_HOME: home, PM2_HOME: join(home, 'pm2'), SILO_HTTP_PORT: String(port), SILO_HIBERNATE_AFTER: '0' };
    const exec = execIn();
    try {
      log('pm2: silo up');
      const up = await exec(process.execPath, [silo, 'up'], env);
      if (up.code !== 0) throw new Error(up.stderr);
      results.pm2 = await measure(exec, env, `http://127.0.0.1:${port}`, 'client2');
    } finally {
      await discardHome(home, () => exec(process.execPath, [silo, 'down', '--purge', '--yes'], env));
    }
  }
  // A swarm of three hosts.
  {
    log('swarm: three hosts');
    const hosts = await startHosts(harness);
    const [n1, n2, n3] = hosts.nodes as [(typeof hosts.nodes)[0], (typeof hosts.nodes)[0], (typeof hosts.nodes)[0]];
    const images = await offlineImages(hosts);
    await hosts.docker(n1, ['service', 'create', '--detach', '--name', 'pg', '--no-resolve-image', '--constraint', `node.hostname==${n2.name}`, '--env', 'POSTGRES_PASSWORD=bench', '--publish', 'mode=host,target=5432,published=5432', images.postgres]);
    const home = mkdtempSync(join(tmpdir(), 'silo-bench-swarm-'));
    const env = {
      PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', SILO_HOME: home, PM2_HOME: join(home, 'pm2'), SILO_HTTP_PORT: '8080', SILO_HIBERNATE_AFTER: '0',
      SILO_RUNTIME: 'swarm', SILO_SWARM_ENGINES: hosts.nodes.map((h) => h.socket).join(','), SILO_SWARM_BASE_IMAGE: images.node,
      SILO_DATABASE_URL: `postgres://postgres:bench@${n2.addr}:5432/postgres`,
      SILO_EDGE_PORT: String(EDGE_PORT),
    };
    // The edge (the proxy as a Swarm service) on node3; requests come from node1.
    await hosts.docker(n1, ['node', 'update', '--label-add', 'silo.edge=true', n3.name]);
    const exec = execIn(n1.ns);
    try {
      const deadline = Date.now() + 180_000;
      for (;;) {
        log('swarm: silo up');
        const up = await exec(process.execPath, [silo, 'up'], env);
        if (up.code === 0) break;
        // The server's first start (initdb) takes a while: up refuses until it answers.
        if (Date.now() > deadline) throw new Error(up.stderr);
        await new Promise((r) => setTimeout(r, 3000));
      }
      // The measured tenant's worker on another node than the edge.
      await exec(process.execPath, [silo, 'tenant', 'move', 'client2', '--node', n2.name], env);
      results.swarm = await measure(exec, env, `http://${n3.addr}:${EDGE_PORT}`, 'client2');
    } finally {
      await discardHome(home, () => exec(process.execPath, [silo, 'down', '--purge', '--yes'], env));
      await hosts.stop();
    }
  }
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  code = 1;
} finally {
  for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => undefined);
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const row = (label: string, f: (x: Figures) => string) => `| ${label} | ${results.pm2 ? f(results.pm2) : '-'} | ${results.swarm ? f(results.swarm) : '-'} |`;
const md = [
  `# bench:swarm ${new Date().toISOString()}`,
  '',
  `Command: \`npm run bench:swarm\` (SWARM_CREATES=${creates}, SWARM_SECONDS=${seconds}), node ${process.version}, ${cpus().length} cores, load average at start ${load}.`,
  '',
  '| | PM2, one host | Swarm, three hosts |',
  '|---|---|---|',
  row('tenant create to first 200 through the proxy, median', (x) => `${Math.round(med(x.createMs))} ms (${x.createMs.map(Math.round).join(', ')})`),
  row('wake (sleep, then first GET until 200), median', (x) => `${Math.round(med(x.wakeMs))} ms (${x.wakeMs.map(Math.round).join(', ')})`),
  row('GET /api/polls through the proxy, 10 connections', (x) => `${Math.round(x.reqPerS)} req/s, p99 ${x.p99Ms} ms, ${x.errors} errors`),
  '',
].join('\n');
process.stdout.write(md);
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'swarm-latest.md'), md);
writeFileSync(join(dir, 'swarm-latest.json'), JSON.stringify(results, null, 2));
process.exit(code);
