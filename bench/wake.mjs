#!/usr/bin/env node
/**
 * `npm run bench:wake` (= build, then this file): the first response of a hibernated
 * tenant through nginx, WAKE_SAMPLES times (default 20) over WAKE_TENANTS tenants
 * (default 4), with where each wake's time went (bench/lib/wake-phases.mjs), p50 and p95
 * per phase. A hermetic stack, torn down at the end. The same figures are in
 * `npm run bench` (section F); this one runs in about a minute.
 *
 * WAKE_STORM=N (default 0) then adds N tenants (provisioned in this process while the
 * proxy is stopped, as bench:fleet does), hibernates them all and sends one GET to each at
 * once, WAKE_STORM_ROUNDS times (default 1): failures, p50 and the slowest first answer.
 * WAKE_SAMPLES=0 skips the single wakes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { createStack, root } from './lib/stack.mjs';
import { hibernate, wakeLatency, wakeStorm } from './lib/hibernation.mjs';
import { run } from './lib/util.mjs';
import { stackCpu, cpuSince, memoryDetail } from './lib/procs.mjs';
import { phaseRows } from './lib/wake-phases.mjs';
import { httpRequest } from './lib/util.mjs';

const samples = Number(process.env.WAKE_SAMPLES ?? 20);
const count = Number(process.env.WAKE_TENANTS ?? 4);
const stormSize = Number(process.env.WAKE_STORM ?? 0);
const stormRounds = Number(process.env.WAKE_STORM_ROUNDS ?? 1);
const log = (line) => process.stderr.write(`[wake] ${line}\n`);

const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
const stack = await createStack();
let code = 0;
let out = '';
try {
  log('silo up');
  await stack.cli(['up']);
  const tenants = ['client1', 'client2'];
  for (let i = tenants.length; i < count; i++) {
    const t = `w${i}`;
    log(`tenant create ${t}`);
    await stack.cli(['tenant', 'create', t]);
    tenants.push(t);
  }
  for (const t of tenants) await httpRequest(stack.httpPort, `${t}.localhost`, '/api/polls');
  const f = (x) => `${Math.round(x)} ms`;
  const lines = [`# bench:wake ${new Date().toISOString()}`, ''];
  const result = {};
  let w;
  if (samples > 0) {
    log(`${samples} wakes through nginx`);
    w = result.wake = await wakeLatency({ home: stack.home, httpPort: stack.httpPort, tenants, samples });
    lines.push(
      `First response of a hibernated tenant through nginx (GET /api/polls): p50 ${f(w.ms.p50)}, p95 ${f(w.ms.p95)}, max ${f(w.ms.p100)}; ${w.failures.length} not 200; awake p50 ${f(w.awakeMs.p50)}.`,
      '',
      `Where it went (${w.phases.samples} wakes with both log lines):`,
      '',
      '| phase | p50 | p95 |',
      '|---|---|---|',
      ...phaseRows(w.phases),
      '',
    );
    if (w.failures.length) code = 1;
  }
  if (stormSize > 0) {
    const { createTenant } = await import(join(root, 'dist', 'tenant', 'create.js'));
    const { loadStackConfig } = await import(join(root, 'dist', 'registry', 'settings.js'));
    const cfg = loadStackConfig({ ...stack.env });
    const pm2cli = (args) => run(process.execPath, [join(root, 'node_modules', 'pm2', 'bin', 'pm2'), ...args], { env: stack.env, cwd: root });
    log(`provisioning ${stormSize} tenants in process (proxy stopped)`);
    await pm2cli(['stop', 'proxy']);
    const names = [];
    for (let i = 0; i < stormSize; i++) {
      const n = `s${String(i).padStart(3, '0')}`;
      await createTenant(cfg, n);
      names.push(n);
    }
    await hibernate(stack.home, names);
    await stack.cli(['up']);
    result.storms = [];
    for (let r = 0; r < stormRounds; r++) {
      log(`storm ${r + 1}: ${stormSize} hibernated tenants at once`);
      const load = loadavg()[0].toFixed(2);
      let before;
      const st = await wakeStorm({ home: stack.home, httpPort: stack.httpPort, tenants: names, onStart: () => (before = stackCpu(stack)) });
      const cpu = cpuSince(before, stackCpu(stack));
      result.storms.push({ ...st, load, cpu });
      lines.push(`Storm ${r + 1} (load average ${load} before): ${st.tenants} hibernated tenants at once, ${st.failed} failed, p50 ${f(st.ms.p50)}, slowest ${f(st.ms.p100)}; CPU of the stack meanwhile (s): ${Object.entries(cpu).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
      if (st.failed) code = 1;
    }
    // The woken workers, idle: their private memory (USS) after WAKE_IDLE_S seconds.
    await new Promise((r) => setTimeout(r, Number(process.env.WAKE_IDLE_S ?? 5) * 1000));
    const st = await stack.status();
    const uss = st.tenants.filter((t) => t.pid).map((t) => memoryDetail(t.pid).ussKB / 1024).filter((x) => x > 0).sort((a, b) => a - b);
    if (uss.length) {
      result.idleUssMB = { n: uss.length, p50: Math.round(uss[Math.floor(uss.length / 2)] * 10) / 10, max: Math.round(uss.at(-1) * 10) / 10 };
      lines.push(`Woken workers idle ${process.env.WAKE_IDLE_S ?? 5} s after the storm (each served one GET /api/polls): USS p50 ${result.idleUssMB.p50} MB, max ${result.idleUssMB.max} MB (${uss.length} workers).`);
    }
    lines.push('');
  }
  lines.splice(2, 0, `Command: \`npm run bench:wake\` (WAKE_SAMPLES=${samples}, ${tenants.length} tenants, WAKE_STORM=${stormSize}), node ${process.version}, ${cpus().length} cores, load average before ${loadBefore}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`, '');
  out = lines.join('\n');
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'wake-latest.json'), JSON.stringify(samples > 0 && !stormSize ? w : result, null, 2));
  writeFileSync(join(dir, 'wake-latest.md'), out);
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  code = 1;
} finally {
  const td = await stack.teardown();
  if (td.leftovers.length) {
    log(`left ${td.leftovers.length} processes`);
    code = 1;
  }
}
process.stdout.write(out);
process.exit(code);
