#!/usr/bin/env node
/**
 * `npm run bench:fleet` (= build, then this file): one host, many registered tenants,
 * few awake. A hermetic stack (own SILO_HOME, PM2_HOME, free ports) grows through
 * FLEET_SIZES registered tenants; at each size it measures what grows with the registry
 * (tenant create, tenant list, status, proxy render + validate, registry write, the
 * stack's memory with every tenant hibernated). At the last size: memory as tenants
 * wake (0, 5, 10, 20 awake), 20 tenants under load, wake latency and a wake storm, and
 * GET /api/polls of a heavier tenant (10 polls x 4 choices) direct and through nginx.
 *
 * Bulk tenants are provisioned in this process (createTenant: role, database,
 * migrations, registry) while the proxy is stopped, so no worker starts for them, then
 * marked hibernated through the waker: a `silo tenant create` with the stack up starts
 * a worker and reloads the proxy each time (its cost is sampled at each size with the
 * real CLI). Tunables: FLEET_SIZES=10,100,250,500,1000 FLEET_HOT_CREATES=2
 * FLEET_LOADED=20 FLEET_LOAD_S=10 FLEET_WAKE_SAMPLES=20 FLEET_STORM=50.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStack, root } from './lib/stack.mjs';
import { measureGroup, getPolls } from './lib/load.mjs';
import { processTable, sumMemory, tree, memoryDetail } from './lib/procs.mjs';
import { hibernate, wake, wakeLatency, wakeStorm } from './lib/hibernation.mjs';
import { PHASES } from './lib/wake-phases.mjs';
import { httpRequest, now, percentiles, round, run, sleep, waitUntil } from './lib/util.mjs';

const env = (k, d) => process.env[k] ?? d;
const sizes = env('FLEET_SIZES', '10,100,250,500,1000').split(',').map(Number);
const P = {
  sizes,
  hotCreates: Number(env('FLEET_HOT_CREATES', 2)),
  loaded: Number(env('FLEET_LOADED', 20)),
  loadS: Number(env('FLEET_LOAD_S', 10)),
  wakeSamples: Number(env('FLEET_WAKE_SAMPLES', 20)),
  storm: Number(env('FLEET_STORM', 50)),
};
const t0 = now();
const log = (line) => process.stderr.write(`[fleet ${((now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const fmt = (ms) => (ms === null || ms === undefined ? "-" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const fname = (i) => `f${String(i).padStart(4, '0')}`;
const results = { startedAt: new Date().toISOString(), params: P, sizes: [], awake: [], load: null, wake: null, storm: null, heavy: null, error: null };

const stack = await createStack({ poolMax: 4 });
process.env.PM2_HOME = stack.env.PM2_HOME;
const dist = (p) => import(join(root, 'dist', p));
const { createTenant } = await dist('tenant/create.js');
const { loadStackConfig } = await dist('registry/settings.js');
const { readRegistry, writeRegistry } = await dist('registry/registry.js');
const { proxyModel } = await dist('proxy/model.js');
const { runPaths } = await dist('common/run-dir.js');
const { proxyDriver } = await dist('proxy/kinds.js');
const { installProxyConfig } = await dist('proxy/config-files.js');
const pm2cli = (args) => run(process.execPath, [join(root, 'node_modules', 'pm2', 'bin', 'pm2'), ...args], { env: stack.env, cwd: root });

let tearingDown = false;
async function finish(code) {
  if (tearingDown) return;
  tearingDown = true;
  try {
    await (await dist('pm2/pm2.js')).disconnect();
  } catch {
    // not connected
  }
  log('teardown: silo down, then checking for leftover processes');
  const td = await stack.teardown({ keepHome: false });
  results.teardown = { downCode: td.down?.code ?? -1, leftovers: td.leftovers.length };
  if (td.leftovers.length) code = 1;
  results.totalSeconds = Math.round((now() - t0) / 1000);
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  writeFileSync(join(dir, `fleet-${stamp}.json`), JSON.stringify(results, null, 2));
  writeFileSync(join(dir, 'fleet-latest.json'), JSON.stringify(results, null, 2));
  const md = markdown();
  writeFileSync(join(dir, 'fleet-latest.md'), md);
  process.stdout.write(md);
  process.exit(code);
}
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(s, () => {
    if (tearingDown) return log(`${s}: already tearing down`);
    results.error = 'interrupted';
    finish(130);
  });
}

function stackTotal() {
  const daemonPid = Number(readFileSync(join(stack.env.PM2_HOME, 'pm2.pid'), 'utf8').trim());
  return sumMemory(tree(daemonPid, processTable()));
}

async function timedCli(args) {
  const r = await stack.cli(args);
  return r.ms;
}

/** `silo tenant create` with the stack up, to its first 200 through nginx. */
async function hotCreate(tenant) {
  const start = now();
  const r = await stack.cli(['tenant', 'create', tenant]);
  const cmd = now() - start;
  await waitUntil(`${tenant} through nginx`, 30_000, async () => (await httpRequest(stack.httpPort, `${tenant}.localhost`, '/api/polls')).status === 200);
  return { commandMs: Math.round(r.ms), first200Ms: Math.round(now() - start), cmd };
}

function markdown() {
  const lines = [`# bench:fleet ${results.startedAt}`, '', `Command: \`npm run bench:fleet\` (FLEET_SIZES=${P.sizes.join(',')}); machine shared with other work, figures are one run.`, ''];
  if (results.error) lines.push(`**Error:** ${results.error}`, '');
  lines.push('| registered tenants | provisioning p50 (in process) | `tenant create` hot, to first 200 | `tenant list --json` | `status --json` | proxy render | render + `nginx -t` | registry write | `silo up` (all hibernated) | stack memory, all hibernated (RSS / PSS) |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const s of results.sizes) {
    lines.push(`| ${s.tenants} | ${fmt(s.provisionMs.p50)} | ${s.hotCreate.map((h) => fmt(h.first200Ms)).join(', ')} | ${fmt(s.listMs)} | ${fmt(s.statusMs)} | ${fmt(s.renderMs)} | ${fmt(s.validateMs)} | ${fmt(s.registryWriteMs)} | ${s.upMs ? fmt(s.upMs) : '-'} | ${s.memory.rssMB} / ${s.memory.pssMB} MB |`);
  }
  if (results.awake.length) {
    lines.push('', '| awake tenants (of all registered) | stack RSS | stack PSS | processes |', '|---|---|---|---|');
    for (const a of results.awake) lines.push(`| ${a.awake}${a.label ? ` (${a.label})` : ''} | ${a.memory.rssMB} MB | ${a.memory.pssMB} MB | ${a.memory.processes} |`);
  }
  if (results.load) lines.push('', `Load on ${results.load.tenants} tenants through nginx for ${results.load.seconds} s: ${results.load.reqPerSec} req/s, ${results.load.non2xx} non-2xx, ${results.load.errors} errors, p50 ${results.load.p50} ms, p99 ${results.load.p99} ms.`);
  if (results.wake) lines.push('', `Wake through nginx (first GET /api/polls of a hibernated tenant, ${results.wake.samples} samples): p50 ${fmt(results.wake.ms.p50)}, p95 ${fmt(results.wake.ms.p95)}, max ${fmt(results.wake.ms.p100)}, ${results.wake.failures.length} not 200; awake: p50 ${fmt(results.wake.awakeMs.p50)}.`);
  if (results.wake?.phases?.samples) lines.push('', `Where a wake goes (p50 per phase, ${results.wake.phases.samples} wakes): ${PHASES.filter((p) => results.wake.phases[p]).map((p) => `${p} ${results.wake.phases[p].p50} ms`).join(', ')}.`);
  if (results.storm) lines.push('', `Wake storm: ${results.storm.tenants} hibernated tenants at once: ${results.storm.failed} failed, slowest ${fmt(results.storm.ms.p100)}, p50 ${fmt(results.storm.ms.p50)}.`);
  if (results.heavy) lines.push('', `GET /api/polls, a tenant with 10 polls x 4 choices (${results.heavy.bytes} bytes): direct ${results.heavy.direct.reqPerSec} req/s (p50 ${results.heavy.direct.latencyMs.p50} ms), through nginx ${results.heavy.nginx.reqPerSec} req/s (p50 ${results.heavy.nginx.latencyMs.p50} ms).`);
  if (results.workerMemory) lines.push('', `Awake idle worker (median of ${results.workerMemory.n}): RSS ${results.workerMemory.rss} MB, PSS ${results.workerMemory.pss} MB, USS ${results.workerMemory.uss} MB.`);
  lines.push('', `Total ${results.totalSeconds} s.`, '');
  return lines.join('\n');
}

try {
  log(`SILO_HOME ${stack.home}; sizes ${P.sizes.join(', ')}`);
  await stack.cli(['up']);
  const cfg = loadStackConfig({ ...stack.env });
  const regFile = join(stack.home, 'registry.json');
  const scratch = mkdtempSync(join(tmpdir(), 'silo-fleet-proxy-'));
  let created = 0;
  let hot = 0;
  for (const size of P.sizes) {
    // Bulk: provision up to size - hot creates, with the proxy stopped (no worker starts).
    const registered = () => Object.keys(readRegistry(regFile).tenants).length;
    const bulk = Math.max(0, size - P.hotCreates - registered());
    const provision = [];
    const names = [];
    if (bulk > 0) {
      await pm2cli(['stop', 'proxy']);
      log(`${size}: provisioning ${bulk} tenants in process`);
      for (let i = 0; i < bulk; i++) {
        const n = fname(++created);
        const s = now();
        await createTenant(cfg, n);
        provision.push(now() - s);
        names.push(n);
      }
      await hibernate(stack.home, names);
    }
    const upStart = now();
    const up = bulk > 0 ? await stack.cli(['up']) : null;
    const upMs = up ? now() - upStart : null;
    // Hot creates, as an operator runs them.
    const hotSamples = [];
    for (let i = 0; i < P.hotCreates && registered() < size; i++) hotSamples.push(await hotCreate(`hot${++hot}`));
    await hibernate(stack.home, Object.keys(readRegistry(regFile).tenants).filter((n) => n.startsWith('hot') || n.startsWith('client')));
    const reg = readRegistry(regFile);
    const n = Object.keys(reg.tenants).length;
    let s = now();
    const model = proxyModel(reg, { domain: cfg.domain, httpHost: cfg.httpHost, httpPort: cfg.httpPort, runDir: runPaths(cfg.home).dir, wakerSocket: runPaths(cfg.home).wakerSocket, tenantRate: cfg.tenantRate });
    const driver = proxyDriver(scratch, 'nginx');
    driver.render(model);
    const renderMs = now() - s;
    rmSync(join(scratch, 'nginx'), { recursive: true, force: true });
    s = now();
    await installProxyConfig(driver, model);
    const validateMs = now() - s;
    s = now();
    writeRegistry(regFile + '.bench-copy', reg);
    const registryWriteMs = now() - s;
    rmSync(regFile + '.bench-copy', { force: true });
    const listMs = await timedCli(['tenant', 'list', '--json']);
    const statusMs = await timedCli(['status', '--json']);
    await sleep(1000);
    const entry = { tenants: n, provisionMs: percentiles(provision, [50, 95]), hotCreate: hotSamples, listMs, statusMs, renderMs, validateMs, registryWriteMs, upMs, memory: stackTotal() };
    results.sizes.push(entry);
    log(`${n} tenants: hot create ${hotSamples.map((h) => fmt(h.first200Ms)).join(', ')}, list ${fmt(listMs)}, status ${fmt(statusMs)}, render ${fmt(renderMs)}, render+validate ${fmt(validateMs)}, stack ${entry.memory.rssMB} MB RSS`);
  }
  rmSync(scratch, { recursive: true, force: true });

  // Memory as tenants wake, at the last size.
  const all = Object.keys(readRegistry(regFile).tenants).filter((n) => n.startsWith('f')).sort();
  const loaded = all.slice(0, P.loaded);
  results.awake.push({ awake: 0, memory: stackTotal() });
  for (const k of [5, 10, 20].filter((k) => k <= P.loaded)) {
    await wake(stack.home, loaded.slice(0, k));
    await sleep(1500);
    results.awake.push({ awake: k, memory: stackTotal() });
    log(`${k} awake: stack ${results.awake.at(-1).memory.rssMB} MB RSS, ${results.awake.at(-1).memory.pssMB} MB PSS`);
  }
  {
    const st = await stack.status();
    const pids = st.tenants.filter((t) => t.pid).map((t) => t.pid);
    const d = pids.map(memoryDetail);
    const med = (k) => round(percentiles(d.map((x) => x[k] / 1024), [50]).p50, 1);
    results.workerMemory = { n: d.length, rss: med('rssKB'), pss: med('pssKB'), uss: med('ussKB') };
  }
  // 20 under load through nginx.
  log(`load on ${loaded.length} tenants for ${P.loadS} s`);
  const m = (await measureGroup([{ key: 'load', targets: loaded.map((n) => ({ port: stack.httpPort, host: `${n}.localhost`, requests: getPolls() })) }], { connections: 40, rounds: 1, slice: P.loadS, warmup: 0 })).get('load');
  results.awake.push({ awake: loaded.length, label: 'at the end of the load', memory: stackTotal() });
  results.load = { tenants: loaded.length, seconds: P.loadS, reqPerSec: m.reqPerSec, non2xx: m.non2xx, errors: m.errors + m.timeouts, p50: m.latencyMs.p50, p99: m.latencyMs.p99 };

  // Wake latency and a storm with the whole fleet registered.
  await hibernate(stack.home, loaded);
  results.wake = await wakeLatency({ home: stack.home, httpPort: stack.httpPort, tenants: all.slice(P.loaded, P.loaded + P.wakeSamples), samples: P.wakeSamples });
  log(`wake p50 ${fmt(results.wake.ms.p50)} p95 ${fmt(results.wake.ms.p95)}`);
  results.storm = await wakeStorm({ home: stack.home, httpPort: stack.httpPort, tenants: all.slice(0, P.storm) });
  log(`storm ${results.storm.tenants}: ${results.storm.failed} failed, slowest ${fmt(results.storm.ms.p100)}`);
  await hibernate(stack.home, all.slice(0, P.storm));

  // A heavier tenant: 10 polls of 4 choices.
  const heavy = 'client1';
  for (let i = 0; i < 10; i++) {
    const r = await httpRequest(stack.httpPort, `${heavy}.localhost`, '/api/polls', { method: 'POST', body: { question: `Heavier poll number ${i + 1}: which option do you prefer?`, choices: ['First option', 'Second option', 'Third option', 'Fourth option'] }, timeoutMs: 30_000 });
    if (r.status !== 201) throw new Error(`seeding ${heavy}: HTTP ${r.status} ${r.text}`);
  }
  const reg = readRegistry(regFile);
  const polls = (await httpRequest(stack.httpPort, `${heavy}.localhost`, '/api/polls')).text;
  const keep = JSON.parse(polls).slice(-10).map((p) => p.id);
  for (const p of JSON.parse(polls)) if (!keep.includes(p.id)) await httpRequest(stack.httpPort, `${heavy}.localhost`, `/api/polls/${p.id}`, { method: 'DELETE' });
  const body = (await httpRequest(stack.httpPort, `${heavy}.localhost`, '/api/polls')).text;
  const g = await measureGroup(
    [
      { key: 'direct', targets: [{ port: runPaths(stack.home).workerSocket(heavy), host: `${heavy}.localhost`, requests: getPolls() }] },
      { key: 'nginx', targets: [{ port: stack.httpPort, host: `${heavy}.localhost`, requests: getPolls() }] },
    ],
    { connections: 50, rounds: 2, slice: 3, warmup: 1 },
  );
  results.heavy = { bytes: Buffer.byteLength(body), polls: JSON.parse(body).length, direct: g.get('direct'), nginx: g.get('nginx') };
  log(`heavy tenant (${results.heavy.bytes} bytes): direct ${results.heavy.direct.reqPerSec} req/s, nginx ${results.heavy.nginx.reqPerSec} req/s`);
  await finish(0);
} catch (err) {
  results.error = err instanceof Error ? err.stack ?? err.message : String(err);
  log(`FAILED: ${results.error}`);
  await finish(1);
}
