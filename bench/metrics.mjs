#!/usr/bin/env node
/**
 * `npm run bench:metrics` (= build, then this file; part of `npm run bench`): what
 * metrics cost.
 *
 * 1. The workers' request rate with counting on and off: a plain `node` worker (the
 *    bundle PM2 runs, no PM2) for a tenant whose database is unreachable, serving GET
 *    /api/tenant (no query: the cheapest request, where counting weighs most), with
 *    REQUEST_COUNTS_FILE set (SILO_METRICS=on) or empty (off); autocannon, 20
 *    connections, BENCH_METRICS_SECONDS per variant, the two interleaved for
 *    BENCH_METRICS_ROUNDS rounds; medians.
 * 2. A scrape of /metrics at METRICS_SIZES registered tenants (default 10,1000): a
 *    hermetic stack; the first 10 tenants provisioned in this process with the proxy
 *    stopped (as bench:fleet does), the others registered directly (a registry entry and
 *    an empty database each: see scrapes()), all but the demo tenants hibernated; the
 *    scrape runs in this process
 *    (createMetrics, what the control API's GET /metrics runs): the first one (every
 *    cache cold: database sizes, backups, certificates) and the median of 5 after it;
 *    its size in bytes and series.
 * Writes bench/results/metrics-latest.md.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createStack, freePort, root } from './lib/stack.mjs';
import { hibernate } from './lib/hibernation.mjs';
import { now, percentiles, run, sleep } from './lib/util.mjs';

const rounds = Number(process.env.BENCH_METRICS_ROUNDS ?? 6);
const seconds = Number(process.env.BENCH_METRICS_SECONDS ?? 5);
const sizes = (process.env.METRICS_SIZES ?? '10,1000').split(',').map(Number);
/** Up to this many registered tenants are made with tenant create; the rest are registered directly (see below). */
const FULL_CREATES = 10;
const t0 = now();
const log = (line) => process.stderr.write(`[metrics ${((now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const med = (xs) => percentiles(xs, [50]).p50;

/** User + system CPU seconds of a process (/proc/<pid>/stat, USER_HZ 100). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const get = (port, path, host) =>
  new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end();
  });

async function workerRates() {
  const dir = mkdtempSync(join(tmpdir(), 'silo-metrics-bench-'));
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'unused');
  chmodSync(pw, 0o600);
  const bundled = join(root, 'dist', 'worker-bundle', 'worker', 'server.js');
  const worker = existsSync(bundled) ? bundled : join(root, 'dist', 'worker', 'server.js');
  const variants = [
    { label: 'off', file: '' },
    { label: 'on', file: join(dir, 'requests.json') },
  ];
  const rates = { on: [], off: [] };
  const cpuUs = { on: [], off: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const v of r % 2 ? [...variants].reverse() : variants) {
        const port = await freePort();
        const env = { PATH: process.env.PATH, PORT: String(port), TENANT: 'acme', HOST: '127.0.0.1', DB_PORT: '1', DB_PASSWORD_FILE: pw, NODE_ENV: 'production', LOG_LEVEL: 'error', REQUEST_COUNTS_FILE: v.file };
        const child = spawn(process.execPath, [worker], { env, stdio: 'ignore' });
        try {
          const start = now();
          while ((await get(port, '/api/tenant', 'acme.localhost')) !== 200) {
            if (now() - start > 15_000) throw new Error('the worker did not answer');
            await sleep(20);
          }
          // Warm up, then measure.
          await autocannon({ url: `http://127.0.0.1:${port}/api/tenant`, headers: { host: 'acme.localhost' }, connections: 20, duration: 1 });
          const cpuBefore = cpuSeconds(child.pid);
          const a = await autocannon({ url: `http://127.0.0.1:${port}/api/tenant`, headers: { host: 'acme.localhost' }, connections: 20, duration: seconds });
          const cpu = cpuSeconds(child.pid) - cpuBefore;
          rates[v.label].push(a.requests.average);
          cpuUs[v.label].push((cpu / a.requests.total) * 1e6);
          if (v.file) {
            await sleep(1100);
            const counted = JSON.parse(readFileSync(v.file, 'utf8')).classes['2xx'];
            if (counted < a.requests.total) throw new Error(`counted ${counted} of ${a.requests.total}`);
          }
          log(`round ${r + 1}, counting ${v.label}: ${Math.round(a.requests.average)} req/s, ${cpuUs[v.label].at(-1).toFixed(1)} us of worker CPU per request`);
        } finally {
          child.kill('SIGKILL');
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { on: med(rates.on), off: med(rates.off), samples: rates, cpuOn: med(cpuUs.on), cpuOff: med(cpuUs.off) };
}

async function scrapes() {
  const out = [];
  const stack = await createStack({ poolMax: 4 });
  process.env.PM2_HOME = stack.env.PM2_HOME;
  const dist = (p) => import(join(root, 'dist', p));
  const { createTenant } = await dist('tenant/create.js');
  const { loadStackConfig } = await dist('registry/settings.js');
  const { readRegistry, updateRegistry } = await dist('registry/registry.js');
  const { connectAdmin } = await dist('postgres/admin.js');
  const { adminUrl } = await dist('servers/servers.js');
  const { createMetrics } = await dist('metrics/routes.js');
  const pm2cli = (args) => run(process.execPath, [join(root, 'node_modules', 'pm2', 'bin', 'pm2'), ...args], { env: stack.env, cwd: root });
  try {
    await stack.cli(['up']);
    const cfg = loadStackConfig({ ...stack.env });
    const regFile = join(stack.home, 'registry.json');
    let created = 0;
    for (const size of sizes) {
      const bulk = size - Object.keys(readRegistry(regFile).tenants).length;
      if (bulk > 0 && size <= FULL_CREATES) {
        await pm2cli(['stop', 'proxy']);
        log(`${size}: provisioning ${bulk} tenants in process`);
        const names = [];
        for (let i = 0; i < bulk; i++) {
          const n = `m${String(++created).padStart(4, '0')}`;
          await createTenant(cfg, n);
          names.push(n);
        }
        await stack.cli(['up']);
        await hibernate(stack.home, names);
      } else if (bulk > 0) {
        // Registered directly: an entry in the registry and an empty database each (what a
        // scrape reads), no Unix user, worker or route. Under root, \`tenant create\` stops
        // near 880 tenants on a default Debian, whose system user and group ids (101-999)
        // run out (useradd: can't create group).
        log(`${size}: registering ${bulk} tenants (registry entry + database)`);
        const sql = connectAdmin(adminUrl(cfg, 'local'), { max: 4 });
        const names = Array.from({ length: bulk }, () => `m${String(++created).padStart(4, '0')}`);
        try {
          for (let i = 0; i < names.length; i += 4) {
            await Promise.all(names.slice(i, i + 4).map((n) => sql`create database ${sql(n)}`));
            if ((i + 4) % 200 === 0) log(`  ${i + 4} of ${bulk}`);
          }
        } finally {
          await sql.end({ timeout: 5 });
        }
        await updateRegistry(regFile, (reg) => {
          for (const n of names) reg.tenants[n] = { server: 'local', port: 0, domains: [], state: 'ready', schemaVersion: 1, createdAt: new Date().toISOString() };
        });
        await hibernate(stack.home, names);
      }
      const metrics = createMetrics(cfg); // a fresh one: every cache cold
      let s = now();
      const first = await metrics.scrape();
      const coldMs = now() - s;
      const warm = [];
      let text = first;
      for (let i = 0; i < 5; i++) {
        s = now();
        text = await metrics.scrape();
        warm.push(now() - s);
      }
      const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
      const tenants = Object.keys(readRegistry(regFile).tenants).length;
      const awake = (text.match(/^silo_tenant_state\{tenant="[^"]+",state="awake"\} 1$/gm) ?? []).length;
      out.push({ tenants, awake, coldMs: Math.round(coldMs), warmMs: Math.round(med(warm)), bytes: Buffer.byteLength(text), series });
      log(`${tenants} tenants (${awake} awake): first scrape ${Math.round(coldMs)} ms, then ${Math.round(med(warm))} ms; ${Buffer.byteLength(text)} bytes, ${series} series`);
    }
  } finally {
    try {
      await (await dist('pm2/pm2.js')).disconnect();
    } catch {
      // not connected
    }
    const td = await stack.teardown({ keepHome: false });
    if (td.leftovers.length) log(`LEFTOVER processes: ${td.leftovers.length}`);
  }
  return out;
}

const startedAt = new Date().toISOString();
const rates = await workerRates();
const scraped = await scrapes();
const cost = (1 - rates.on / rates.off) * 100;
const lines = [
  `# bench:metrics ${startedAt}`,
  '',
  `Worker GET /api/tenant (no query), 20 connections, ${seconds} s x ${rounds} rounds, medians: counting off ${Math.round(rates.off)} req/s, on ${Math.round(rates.on)} req/s (${cost >= 0 ? '-' : '+'}${Math.abs(cost).toFixed(1)}%); worker CPU per request off ${rates.cpuOff.toFixed(1)} us, on ${rates.cpuOn.toFixed(1)} us; samples off ${rates.samples.off.map(Math.round).join(', ')}, on ${rates.samples.on.map(Math.round).join(', ')} req/s.`,
  '',
  '| registered tenants | awake | first scrape (caches cold) | scrape, median of 5 after | size | series |',
  '|---|---|---|---|---|---|',
  ...scraped.map((s) => `| ${s.tenants} | ${s.awake} | ${s.coldMs} ms | ${s.warmMs} ms | ${Math.round(s.bytes / 1024)} KB | ${s.series} |`),
  '',
  `Total ${Math.round((now() - t0) / 1000)} s.`,
  '',
];
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'metrics-latest.md'), lines.join('\n'));
process.stdout.write(lines.join('\n'));
process.exit(0);
