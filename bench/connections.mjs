#!/usr/bin/env node
/**
 * `npm run bench:connections`: a fleet of awake tenants against one PostgreSQL server's
 * connection budget, with each tenant's pool as silo's workers open it (postgres.js
 * options of src/worker/db.ts), directly and through PgBouncer (Debian's `pgbouncer`).
 *
 * One embedded PostgreSQL (its own folder, a Unix socket, `max_connections` CONN_MAX),
 * CONN_TENANTS tenants each with its own role (scram-sha-256) and database (CONNECT
 * revoked from PUBLIC), a small polls/votes table pair in each. Each tenant is a
 * postgres.js pool in this process: 1,000 worker processes do not fit this host's memory
 * (about 30 MB each), and what the server sees of a worker is its pool. Per mode:
 *
 * - awake: every tenant runs a query (CONN_WAKE_CONCURRENCY at a time): failures, peak
 *   sessions on the server; then, after the idle timeout, the sessions tenants still hold.
 * - busy: CONN_BUSY tenants at once, each CONN_LOOPS closed loops (3 reads to 1 write
 *   transaction, like a vote) for CONN_BUSY_S, while a neighbour runs one read every
 *   20 ms: failures by code, queries/s, latency p50/p99 of the busy tenants and of the
 *   neighbour, peak sessions on the server, CPU of this process and of PgBouncer.
 *
 * Modes (CONN_MODES): `direct` (silo's choice: the pool sized from the budget as
 * src/servers/connection-budget.ts does, idle 10 s, lifetime ~60 s), `direct-pool4` (every
 * pool CONN_POOL, as before the budget), `direct-pool1`, `pgbouncer-tx` (transaction
 * pooling, default_pool_size CONN_PGB_POOL, no prepared statements: PgBouncer 1.18 cannot
 * keep them in transaction mode), `pgbouncer-session` (pool CONN_POOL per database).
 * Results: bench/results/connections-*.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import postgres from 'postgres';
import { root } from './lib/stack.mjs';
import { now, percentiles, round, sleep } from './lib/util.mjs';

const env = (k, d) => process.env[k] ?? d;
const P = {
  tenants: Number(env('CONN_TENANTS', 1000)),
  maxConnections: Number(env('CONN_MAX', 200)),
  busy: Number(env('CONN_BUSY', 100)),
  loops: Number(env('CONN_LOOPS', 4)),
  busyS: Number(env('CONN_BUSY_S', 20)),
  pool: Number(env('CONN_POOL', 4)),
  idleS: Number(env('CONN_IDLE_S', 10)),
  lifetimeS: Number(env('CONN_LIFETIME_S', 60)),
  connectTimeoutS: Number(env('CONN_CONNECT_TIMEOUT_S', 3)),
  pgbPool: Number(env('CONN_PGB_POOL', 1)),
  wakeConcurrency: Number(env('CONN_WAKE_CONCURRENCY', 25)),
  soloLoops: Number(env('CONN_SOLO_LOOPS', 16)),
  soloS: Number(env('CONN_SOLO_S', 10)),
  modes: env('CONN_MODES', 'direct,direct-pool4,pgbouncer-tx,pgbouncer-session').split(','),
};
const t0 = now();
const log = (line) => process.stderr.write(`[connections ${((now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const name = (i) => `t${String(i).padStart(4, '0')}`;
const dist = (p) => import(join(root, 'dist', p));
const { startEmbedded } = await dist('postgres/embedded.js');
const { budgetOf, poolSize } = await dist('servers/connection-budget.js');
// silo's sizing: the budget shared by the tenants (and the neighbour), 1 to SILO_POOL_MAX.
const sizedPool = poolSize(budgetOf(P.maxConnections), P.tenants + 1, P.pool);

const work = mkdtempSync('/tmp/silo-bench-conn-');
chmodSync(work, 0o711);
const sockets = join(work, 'run');
mkdirSync(sockets, { mode: 0o777 });
chmodSync(sockets, 0o777);
const password = 'bench-' + Math.random().toString(36).slice(2);
const pgPort = 20000 + Math.floor(Math.random() * 20000);
const results = { startedAt: new Date().toISOString(), params: P, machine: { cores: cpus().length, loadAtStart: loadavg()[0] }, modes: {} };

const messages = {};
let pg;
let pgb;
// Never leave the server running: a crash stops it too.
process.on('uncaughtException', (err) => {
  process.stderr.write(String(err?.stack ?? err) + '\n');
  pgb?.child.kill('SIGTERM');
  pg?.stop().finally(() => process.exit(1));
});
let code = 0;
const tenantPassword = (i) => `pw-${i}-${password}`;
try {
  log(`PostgreSQL with max_connections ${P.maxConnections}`);
  pg = await startEmbedded({ dataDir: join(work, 'pg'), port: pgPort, password, socketDir: sockets, maxConnections: P.maxConnections });
  const admin = postgres({ host: sockets, port: pgPort, username: 'postgres', password, database: 'postgres', max: 4, onnotice: () => {} });
  await provision(admin);
  for (const mode of P.modes) {
    log(`mode ${mode}`);
    results.modes[mode] = await measure(admin, mode);
    log(JSON.stringify(results.modes[mode]));
  }
  await admin.end({ timeout: 5 });
} catch (err) {
  results.error = String(err?.stack ?? err);
  log(results.error);
  code = 1;
} finally {
  pgb?.kill('SIGTERM');
  await pg?.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
results.totalSeconds = Math.round((now() - t0) / 1000);
results.errors = messages;
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `connections-${results.startedAt.replace(/[:.]/g, '-')}.json`), JSON.stringify(results, null, 2));
writeFileSync(join(dir, 'connections-latest.json'), JSON.stringify(results, null, 2));
const md = markdown();
writeFileSync(join(dir, 'connections-latest.md'), md);
process.stdout.write(md);
process.exit(code);

async function provision(admin) {
  log(`provisioning ${P.tenants + 1} tenants (role, database from a template)`);
  await admin`create database tpl`;
  const tpl = postgres({ host: sockets, port: pgPort, username: 'postgres', password, database: 'tpl', max: 1, onnotice: () => {} });
  await tpl.unsafe(`
    create table polls (id serial primary key, question text not null, created_at timestamptz not null default now());
    create table choices (id serial primary key, poll_id int not null references polls, text text not null, votes int not null default 0);
    create table votes (id bigserial primary key, choice_id int not null references choices, voter text not null);
    insert into polls (question) select 'Question ' || g from generate_series(1, 10) g;
    insert into choices (poll_id, text) select p.id, 'Choice ' || c from polls p, generate_series(1, 4) c;`);
  await tpl.end();
  const started = now();
  // One more than CONN_TENANTS: the neighbour.
  for (let i = 0; i <= P.tenants; i += 20) {
    const batch = [];
    for (let j = i; j <= Math.min(P.tenants, i + 19); j++) batch.push(j);
    await Promise.all(
      batch.map(async (j) => {
        const n = name(j);
        await admin.unsafe(`create role ${n} login password '${tenantPassword(j)}' connection limit ${P.pool * 2 + 2}`);
        await admin.unsafe(`create database ${n} owner ${n} template tpl`);
        await admin.unsafe(`revoke connect on database ${n} from public`);
      }),
    );
    // Tables in the template belong to postgres: the tenant owns its copies.
    await Promise.all(
      batch.map(async (j) => {
        const db = postgres({ host: sockets, port: pgPort, username: 'postgres', password, database: name(j), max: 1, onnotice: () => {} });
        await db.unsafe(`alter table polls owner to ${name(j)}; alter table choices owner to ${name(j)}; alter table votes owner to ${name(j)};`);
        await db.end();
      }),
    );
  }
  results.provisionSeconds = round((now() - started) / 1000);
}

/** A tenant's pool, with the options of src/worker/db.ts (or through PgBouncer). */
function tenantPool(i, mode, pgbSocket) {
  const viaPgb = mode.startsWith('pgbouncer');
  return postgres({
    host: viaPgb ? pgbSocket.dir : sockets,
    port: viaPgb ? pgbSocket.port : pgPort,
    database: name(i),
    username: name(i),
    password: tenantPassword(i),
    max: mode === 'direct' ? sizedPool : mode === 'direct-pool1' ? 1 : P.pool,
    connect_timeout: P.connectTimeoutS,
    idle_timeout: P.idleS,
    max_lifetime: P.lifetimeS ? () => P.lifetimeS * (0.75 + Math.random() / 2) : null,
    backoff: (attempt) => Math.min(0.05 * 2 ** attempt, 1),
    prepare: mode !== 'pgbouncer-tx',
    // PgBouncer refuses startup parameters it does not track (statement_timeout would be lost behind it).
    connection: viaPgb ? { application_name: `silo-${name(i)}` } : { application_name: `silo-${name(i)}`, statement_timeout: 5000 },
    onnotice: () => {},
  });
}

async function startPgbouncer(admin, poolMode) {
  const dirP = join(work, `pgb-${poolMode}`);
  mkdirSync(dirP, { mode: 0o755 });
  const rows = await admin`select rolname, rolpassword from pg_authid where rolname ~ '^t[0-9]{4}$'`;
  writeFileSync(join(dirP, 'users.txt'), rows.map((r) => `"${r.rolname}" "${r.rolpassword}"`).join('\n') + '\n', { mode: 0o600 });
  const port = pgPort + 1;
  writeFileSync(
    join(dirP, 'pgbouncer.ini'),
    `[databases]
* = host=${sockets} port=${pgPort}
[pgbouncer]
listen_addr =
listen_port = ${port}
unix_socket_dir = ${dirP}
unix_socket_mode = 0777
auth_type = scram-sha-256
auth_file = ${join(dirP, 'users.txt')}
pool_mode = ${poolMode}
default_pool_size = ${poolMode === 'session' ? P.pool : P.pgbPool}
max_client_conn = ${P.tenants * P.pool + 100}
server_idle_timeout = ${P.idleS}
server_lifetime = ${P.lifetimeS || 3600}
server_login_retry = 1
ignore_startup_parameters = extra_float_digits
pidfile = ${join(dirP, 'pgbouncer.pid')}
`,
  );
  const uid = process.getuid?.() === 0 ? Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout) : undefined;
  const gid = uid !== undefined ? Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout) : undefined;
  if (uid !== undefined) for (const f of ['', 'users.txt', 'pgbouncer.ini']) chownSync(join(dirP, f), uid, gid);
  const child = spawn('pgbouncer', [join(dirP, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'], ...(uid !== undefined ? { uid, gid } : {}) });
  let errText = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (errText = (errText + d).slice(-20000)));
  child.errText = () => errText;
  for (let k = 0; k < 100; k++) {
    try {
      readFileSync(join(dirP, `.s.PGSQL.${port}`));
    } catch (e) {
      if (e.code !== 'ENOENT') break; // exists (reading a socket fails otherwise)
    }
    await sleep(50);
  }
  await sleep(300);
  return { child, dir: dirP, port };
}

/** CPU seconds of a process (user + system) from /proc. */
function cpuOf(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** Sessions of tenant roles on the server, sampled every 100 ms: now and the peak. */
function sessionMonitor(admin) {
  let peak = 0;
  let last = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const [r] = await admin`select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and usename ~ '^t[0-9]{4}$'`;
      last = r.n;
      peak = Math.max(peak, last);
      await sleep(100);
    }
  })();
  return {
    get peak() {
      return peak;
    },
    get last() {
      return last;
    },
    reset() {
      peak = last;
    },
    async stop() {
      stop = true;
      await loop;
    },
  };
}

/** An error's code; the first message seen for each code is kept for the report. */
function codeOf(e) {
  const code = e?.code ?? e?.message?.slice(0, 60) ?? String(e);
  messages[code] ??= String(e?.message ?? e).slice(0, 200);
  return code;
}

/** One unit of a busy tenant's work: three reads (the polls page's query) to one vote (a write transaction). */
async function step(sql, n, k, i) {
  if ((n + k) % 4 === 3) {
    await sql.begin(async (tx) => {
      const [c] = await tx`update choices set votes = votes + 1 where id = ${1 + ((n + i) % 40)} returning id`;
      await tx`insert into votes (choice_id, voter) values (${c.id}, ${'v' + n})`;
    });
  } else {
    await sql`select p.id, p.question, c.id as choice, c.votes from polls p join choices c on c.poll_id = p.id order by p.id, c.id`;
  }
}

async function measure(admin, mode) {
  const out = {};
  if (mode.startsWith('pgbouncer')) pgb = await startPgbouncer(admin, mode === 'pgbouncer-tx' ? 'transaction' : 'session');
  const pools = Array.from({ length: P.tenants + 1 }, (_, i) => tenantPool(i, mode, pgb));
  const mon = sessionMonitor(admin);
  try {
    // Solo: one tenant busy alone (what a pool size costs a tenant that has the server to itself).
    {
      const sql = pools[0];
      let okSolo = 0;
      const failSolo = {};
      const until = now() + P.soloS * 1000;
      await Promise.all(
        Array.from({ length: P.soloLoops }, async (_, k) => {
          let n = 0;
          while (now() < until) {
            try {
              await step(sql, n++, k, 0);
              okSolo++;
            } catch (e) {
              failSolo[codeOf(e)] = (failSolo[codeOf(e)] ?? 0) + 1;
            }
          }
        }),
      );
      out.solo = { loops: P.soloLoops, perSecond: Math.round(okSolo / P.soloS), failed: failSolo };
      await sleep((P.idleS + 1) * 1000);
    }

    // Awake: each tenant does something once.
    const wakeFailures = {};
    let next = 0;
    const started = now();
    await Promise.all(
      Array.from({ length: P.wakeConcurrency }, async () => {
        while (next < pools.length) {
          const i = next++;
          try {
            await pools[i]`select count(*)::int from polls`;
          } catch (e) {
            wakeFailures[codeOf(e)] = (wakeFailures[codeOf(e)] ?? 0) + 1;
          }
        }
      }),
    );
    out.awake = { tenants: pools.length, seconds: round((now() - started) / 1000), failed: wakeFailures, peakSessions: mon.peak };
    await sleep((P.idleS + 2) * 1000);
    out.awake.sessionsAfterIdle = mon.last;

    // Busy: P.busy tenants at once, and a neighbour at a steady rate.
    mon.reset();
    const neighbour = pools[P.tenants];
    const nLat = [];
    const nFail = {};
    let stopNeighbour = false;
    await neighbour`select 1`.catch(() => undefined);
    const neighbourLoop = (async () => {
      const pending = [];
      while (!stopNeighbour) {
        const s = now();
        pending.push(
          neighbour`select p.id, p.question, c.id as choice, c.votes from polls p join choices c on c.poll_id = p.id order by p.id, c.id`.then(
            () => nLat.push(now() - s),
            (e) => (nFail[codeOf(e)] = (nFail[codeOf(e)] ?? 0) + 1),
          ),
        );
        await sleep(20);
      }
      await Promise.all(pending);
    })();
    const lat = [];
    const fail = {};
    let ok = 0;
    const cpu0 = process.cpuUsage();
    const pgbCpu0 = pgb ? cpuOf(pgb.child.pid) : null;
    const until = now() + P.busyS * 1000;
    const busyStart = now();
    await Promise.all(
      pools.slice(0, P.busy).flatMap((sql, i) =>
        Array.from({ length: P.loops }, async (_, k) => {
          let n = 0;
          while (now() < until) {
            const s = now();
            try {
              await step(sql, n++, k, i);
              ok++;
              lat.push(now() - s);
            } catch (e) {
              fail[codeOf(e)] = (fail[codeOf(e)] ?? 0) + 1;
            }
          }
        }),
      ),
    );
    const elapsed = (now() - busyStart) / 1000;
    const cpu = process.cpuUsage(cpu0);
    stopNeighbour = true;
    await neighbourLoop;
    const pc = percentiles(lat, [50, 99]);
    const np = percentiles(nLat, [50, 99]);
    out.busy = {
      tenants: P.busy,
      loops: P.loops,
      seconds: round(elapsed),
      ok,
      failed: fail,
      perSecond: Math.round(ok / elapsed),
      p50ms: round(pc.p50),
      p99ms: round(pc.p99),
      peakSessions: mon.peak,
      neighbour: { sent: nLat.length + Object.values(nFail).reduce((a, b) => a + b, 0), failed: nFail, p50ms: round(np.p50), p99ms: round(np.p99) },
      benchCpuS: round((cpu.user + cpu.system) / 1e6),
      ...(pgb ? { pgbouncerCpuS: round(cpuOf(pgb.child.pid) - pgbCpu0) } : {}),
    };
  } finally {
    await mon.stop();
    await Promise.all(pools.map((p) => p.end({ timeout: 5 }).catch(() => undefined)));
    if (pgb) {
      out.pgbouncerLog = pgb.child.errText().split('\n').filter((l) => /WARNING|ERROR|FATAL/.test(l)).slice(-5);
      pgb.child.kill('SIGTERM');
      await new Promise((r) => pgb.child.once('exit', r));
      pgb = undefined;
    }
    await sleep(1000);
  }
  return out;
}

function markdown() {
  const fmtFail = (f) => {
    const n = Object.values(f ?? {}).reduce((a, b) => a + b, 0);
    return n === 0 ? '0' : `${n} (${Object.entries(f).map(([k, v]) => `${k} ${v}`).join(', ')})`;
  };
  const lines = [
    `# Connections: ${P.tenants} awake tenants (+1 neighbour), one server with max_connections ${P.maxConnections}, ${P.busy} busy at once`,
    '',
    `${results.startedAt}, ${results.machine.cores} cores, load ${round(results.machine.loadAtStart)} at start; pool per tenant ${sizedPool} (direct: silo's sizing), ${P.pool} (direct-pool4, PgBouncer's clients), idle timeout ${P.idleS} s, lifetime ~${P.lifetimeS} s, connect timeout ${P.connectTimeoutS} s; busy: ${P.loops} closed loops per tenant (3 reads : 1 write transaction) for ${P.busyS} s; neighbour: one read every 20 ms; PgBouncer 1.18 default_pool_size ${P.pgbPool} (transaction), ${P.pool} (session). Provisioning took ${results.provisionSeconds} s.`,
    '',
    '| mode | awake: failed | awake: peak sessions | sessions after idle | busy: failed | busy: queries/s | busy p50 / p99 ms | busy: peak sessions | neighbour failed | neighbour p50 / p99 ms | CPU s: bench / PgBouncer |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [mode, r] of Object.entries(results.modes)) {
    lines.push(
      `| ${mode} | ${fmtFail(r.awake?.failed)} | ${r.awake?.peakSessions ?? '-'} | ${r.awake?.sessionsAfterIdle ?? '-'} | ${fmtFail(r.busy?.failed)} | ${r.busy?.perSecond ?? '-'} | ${r.busy?.p50ms ?? '-'} / ${r.busy?.p99ms ?? '-'} | ${r.busy?.peakSessions ?? '-'} | ${fmtFail(r.busy?.neighbour?.failed)} of ${r.busy?.neighbour?.sent ?? '-'} | ${r.busy?.neighbour?.p50ms ?? '-'} / ${r.busy?.neighbour?.p99ms ?? '-'} | ${r.busy?.benchCpuS ?? '-'} / ${r.busy?.pgbouncerCpuS ?? '-'} |`,
    );
  }
  lines.push('', '| mode | one tenant busy alone (' + P.soloLoops + ' loops): queries/s | failed |', '|---|---|---|');
  for (const [mode, r] of Object.entries(results.modes)) lines.push(`| ${mode} | ${r.solo?.perSecond ?? '-'} | ${fmtFail(r.solo?.failed)} |`);
  if (Object.keys(messages).length) lines.push('', 'Errors seen:', ...Object.entries(messages).map(([c, m]) => `- ${c}: ${m}`));
  if (results.error) lines.push('', `error: ${results.error.split('\n')[0]}`);
  return lines.join('\n') + '\n';
}
