#!/usr/bin/env node
/**
 * `npm run bench:aging` (= build, then this file): does a worker slow down with age?
 *
 * 1. One tenant on a hermetic stack (real CLI, own SILO_HOME/PM2_HOME, free ports), two
 *    polls seeded, then AGING_ROUNDS rounds of AGING_SLICE seconds of `GET /api/polls`
 *    (AGING_CONNECTIONS autocannon connections, direct to the worker, or through the
 *    proxy with AGING_VIA=proxy), back to back on the same worker process: req/s and the
 *    worker's CPU per request in each round.
 * 2. The driver alone: one plain tagged query (`select 1`) through postgres.js in this
 *    process, AGING_LOOP_CONCURRENCY at a time on a pool of AGING_POOL_MAX, AGING_LOOP_ROUNDS
 *    rounds of AGING_LOOP_SLICE seconds: queries/s and this process's CPU per query.
 *
 * A worker that does not age keeps the same CPU per request in every round after the
 * first (which includes the JIT's warm-up): the last/second ratio is printed. CPU per
 * request is used rather than req/s because other processes share this machine's cores.
 * Results in bench/results/aging-latest.{md,json}.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createStack, root } from './lib/stack.mjs';
import { httpRequest, now, round, sleep } from './lib/util.mjs';

const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const P = {
  rounds: num('AGING_ROUNDS', 6),
  slice: num('AGING_SLICE', 20),
  connections: num('AGING_CONNECTIONS', 50),
  via: process.env.AGING_VIA === 'proxy' ? 'proxy' : 'direct',
  poolMax: num('AGING_POOL_MAX', 4),
  loopRounds: num('AGING_LOOP_ROUNDS', 5),
  loopSlice: num('AGING_LOOP_SLICE', 5),
  loopConcurrency: num('AGING_LOOP_CONCURRENCY', 32),
};
const t0 = now();
const log = (line) => process.stderr.write(`[aging ${((now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const version = (pkg) => JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;

/** utime + stime of one process, in microseconds (CLK_TCK 100). */
function cpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

const results = { startedAt: new Date().toISOString(), params: P, node: process.version, postgresJs: version('postgres'), worker: [], loop: [], error: null };
const stack = await createStack({ poolMax: P.poolMax });
process.env.PM2_HOME = stack.env.PM2_HOME;
let exitCode = 0;
try {
  log(`SILO_HOME ${stack.home}; postgres.js ${results.postgresJs}, node ${process.version}`);
  await stack.cli(['tenant', 'create', 't01']);
  await stack.cli(['up']);
  const reg = stack.registry();
  const tenant = reg.tenants.t01;
  const host = 't01.localhost';
  for (const body of [
    { question: 'Which feature should we build next?', choices: ['Dark mode', 'CSV export', 'Single sign-on'] },
    { question: 'How did you hear about us?', choices: ['A colleague', 'A search engine', 'A conference'] },
  ]) {
    const r = await httpRequest(tenant.port, host, '/api/polls', { method: 'POST', body });
    if (r.status !== 201) throw new Error(`seeding: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  }
  const st = await stack.status();
  const pid = st.tenants.find((t) => t.name === 't01').pid;
  const port = P.via === 'proxy' ? stack.httpPort : tenant.port;

  // ----- 1. one worker, round after round ---------------------------------------------
  for (let r = 1; r <= P.rounds; r++) {
    const cpu0 = cpuUs(pid);
    const load1 = loadavg()[0];
    const res = await autocannon({ url: `http://127.0.0.1:${port}/api/polls`, connections: P.connections, duration: P.slice, headers: { host }, timeout: 10 });
    const cpu = cpuUs(pid) - cpu0;
    const ok = res['2xx'];
    const entry = { round: r, reqPerSec: Math.round(ok / res.duration), cpuUsPerRequest: round(cpu / ok, 1), non2xx: res.non2xx, errors: res.errors, loadavg1Before: round(load1, 2) };
    results.worker.push(entry);
    log(`worker round ${r}: ${entry.reqPerSec} req/s, worker CPU ${entry.cpuUsPerRequest} us/request (non-2xx ${entry.non2xx}, errors ${entry.errors}, load ${entry.loadavg1Before})`);
  }

  // ----- 2. the driver alone -----------------------------------------------------------
  const postgres = (await import('postgres')).default;
  const server = reg.servers[tenant.server];
  const password = readFileSync(join(stack.home, 'secrets', 'tenants', 't01.password'), 'utf8').trim();
  const sql = postgres({ host: server.host, port: server.port, database: 't01', username: 't01', password, max: P.poolMax, onnotice: () => {} });
  await sql`select 1 as x`;
  for (let r = 1; r <= P.loopRounds; r++) {
    let n = 0;
    let stop = false;
    const cpu0 = process.cpuUsage();
    const s0 = now();
    const timer = setTimeout(() => (stop = true), P.loopSlice * 1000);
    await Promise.all(Array.from({ length: P.loopConcurrency }, async () => {
      while (!stop) {
        await sql`select 1 as x`;
        n++;
      }
    }));
    clearTimeout(timer);
    const c = process.cpuUsage(cpu0);
    const entry = { round: r, queriesPerSec: Math.round(n / ((now() - s0) / 1000)), cpuUsPerQuery: round((c.user + c.system) / n, 1) };
    results.loop.push(entry);
    log(`postgres.js loop round ${r}: ${entry.queriesPerSec} queries/s, ${entry.cpuUsPerQuery} us CPU/query`);
  }
  await sql.end({ timeout: 2 });
} catch (err) {
  results.error = String(err?.stack ?? err);
  exitCode = 1;
  log(`failed: ${results.error}`);
}

const td = await stack.teardown({ keepHome: exitCode !== 0 });
if (td.leftovers.length) {
  results.error = `${results.error ?? ''} processes left after silo down: ${td.leftovers.map((l) => l.pid).join(', ')}`;
  exitCode = 1;
}
// Round 1 includes the JIT's warm-up: the worker's trend is read from round 2 on.
const ratio = (xs, k, from = 0) => (xs.length > from + 1 ? round(xs.at(-1)[k] / xs[from][k], 2) : null);
const md = [
  `# Aging: ${results.startedAt}`,
  '',
  `postgres.js ${results.postgresJs}, node ${results.node}, pool ${P.poolMax}`,
  '',
  `## One worker, GET /api/polls ${P.via}, ${P.connections} connections, ${P.rounds} x ${P.slice} s`,
  '',
  '| round | req/s | worker CPU us/request | load1 |',
  '|---|---|---|---|',
  ...results.worker.map((e) => `| ${e.round} | ${e.reqPerSec} | ${e.cpuUsPerRequest} | ${e.loadavg1Before} |`),
  '',
  `last/second round CPU per request: ${ratio(results.worker, 'cpuUsPerRequest', 1)}`,
  '',
  `## postgres.js alone, select 1, ${P.loopConcurrency} at a time, ${P.loopRounds} x ${P.loopSlice} s`,
  '',
  '| round | queries/s | CPU us/query |',
  '|---|---|---|',
  ...results.loop.map((e) => `| ${e.round} | ${e.queriesPerSec} | ${e.cpuUsPerQuery} |`),
  '',
  `last/first CPU per query: ${ratio(results.loop, 'cpuUsPerQuery')}`,
  results.error ? `\nerror: ${results.error}` : '',
].join('\n');
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'aging-latest.md'), md + '\n');
writeFileSync(join(dir, 'aging-latest.json'), JSON.stringify(results, null, 2));
process.stdout.write(md + '\n');
process.exit(exitCode);
