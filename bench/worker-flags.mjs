#!/usr/bin/env node
/**
 * `npm run bench:worker-flags`: what Node/V8 flags do to one worker's memory and speed,
 * next to the floors (bench/limits/bare.mjs: a bare Fastify route; a bare node:http
 * server). Each variant is a plain `node dist/worker/server.js` (no PM2) for a tenant
 * whose database is unreachable: it serves GET /api/tenant (no query) and holds no
 * connection, so the figures isolate the process itself. Per variant and round: start,
 * 50 requests, 3 s idle, then RSS / PSS / USS from /proc/<pid>/smaps_rollup; then
 * autocannon on GET /api/tenant (BENCH_FLAGS_SECONDS, 20 connections) and USS after it.
 * Variants run interleaved for BENCH_FLAGS_ROUNDS rounds; medians are reported.
 * The flags reach real workers through SILO_WORKER_NODE_ARGS.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, root } from './lib/stack.mjs';
import { percentiles, sleep } from './lib/util.mjs';

const rounds = Number(process.env.BENCH_FLAGS_ROUNDS ?? 2);
const seconds = Number(process.env.BENCH_FLAGS_SECONDS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'silo-flags-'));
const pw = join(dir, 'pw');
writeFileSync(pw, 'unused');
chmodSync(pw, 0o600);

// What PM2 runs: the one-file bundle when the build made it (scripts/bundle-worker.js).
const bundled = join(root, 'dist', 'worker-bundle', 'worker', 'server.js');
const worker = existsSync(bundled) ? bundled : join(root, 'dist', 'worker', 'server.js');
const variants = [
  { label: 'worker, default flags', args: [worker] },
  { label: 'worker --max-semi-space-size=1', args: ['--max-semi-space-size=1', worker] },
  { label: 'worker --lite-mode', args: ['--lite-mode', worker] },
  { label: 'worker --lite-mode --max-semi-space-size=1', args: ['--lite-mode', '--max-semi-space-size=1', worker] },
  { label: 'floor: bare Fastify (bench/limits/bare.mjs)', args: [join(root, 'bench', 'limits', 'bare.mjs')], path: '/', host: 'bare', load: false },
  { label: 'floor: node:http server', args: ['-e', "require('http').createServer((q,r)=>r.end('ok')).listen(process.env.PORT,'127.0.0.1')"], path: '/', host: 'x', load: false },
];

const get = (port, path, host) =>
  new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end();
  });

function memory(pid) {
  const s = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (re) => Number(re.exec(s)?.[1] ?? 0);
  return { rss: kb(/^Rss:\s+(\d+)/m) / 1024, pss: kb(/^Pss:\s+(\d+)/m) / 1024, uss: (kb(/^Private_Clean:\s+(\d+)/m) + kb(/^Private_Dirty:\s+(\d+)/m)) / 1024 };
}

const samples = new Map(variants.map((v) => [v.label, []]));
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const port = await freePort();
    const path = v.path ?? '/api/tenant';
    const host = v.host ?? 'acme.localhost';
    const env = { PATH: process.env.PATH, PORT: String(port), TENANT: 'acme', HOST: '127.0.0.1', DB_PORT: '1', DB_PASSWORD_FILE: pw, NODE_ENV: 'production', LOG_LEVEL: 'error' };
    const child = spawn(process.execPath, v.args, { env, stdio: 'ignore' });
    try {
      const start = performance.now();
      while ((await get(port, path, host)) !== 200) {
        if (performance.now() - start > 15_000) throw new Error(`${v.label} did not answer`);
        await sleep(20);
      }
      const startMs = performance.now() - start;
      for (let i = 0; i < 50; i++) await get(port, path, host);
      await sleep(3000);
      const idle = memory(child.pid);
      let load = null;
      if (v.load !== false) {
        const a = await autocannon({ url: `http://127.0.0.1:${port}${path}`, headers: { host }, connections: 20, duration: seconds });
        load = { reqPerSec: a.requests.average, p50: a.latency.p50, ussAfter: memory(child.pid).uss };
      }
      samples.get(v.label).push({ startMs, ...idle, load });
    } finally {
      child.kill('SIGKILL');
    }
  }
}
rmSync(dir, { recursive: true, force: true });

const med = (xs) => percentiles(xs, [50]).p50;
const f = (x) => (x === null || x === undefined ? '-' : Math.round(x * 10) / 10);
const lines = [
  `# bench:worker-flags (${rounds} rounds, ${seconds} s of load per variant and round; medians)`,
  '',
  '| process | first answer after spawn | RSS idle | PSS idle | USS idle | GET /api/tenant req/s | p50 ms | USS after load |',
  '|---|---|---|---|---|---|---|---|',
];
for (const v of variants) {
  const s = samples.get(v.label);
  const l = s.map((x) => x.load).filter(Boolean);
  lines.push(
    `| ${v.label} | ${Math.round(med(s.map((x) => x.startMs)))} ms | ${f(med(s.map((x) => x.rss)))} MB | ${f(med(s.map((x) => x.pss)))} MB | ${f(med(s.map((x) => x.uss)))} MB | ${l.length ? Math.round(med(l.map((x) => x.reqPerSec))) : '-'} | ${l.length ? f(med(l.map((x) => x.p50))) : '-'} | ${l.length ? `${f(med(l.map((x) => x.ussAfter)))} MB` : '-'} |`,
  );
}
process.stdout.write(lines.join('\n') + '\n');
