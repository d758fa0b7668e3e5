#!/usr/bin/env node
/**
 * `npm run bench:dayops`: the day-2 operations on one tenant holding 100,000 votes, on a
 * hermetic stack (as bench/run.mjs: own SILO_HOME, PM2_HOME, free ports), kept out of
 * the default `npm run bench` so that run stays under 10 minutes.
 *
 *   - `silo tenant backup` (s, MB/s of dump) next to the floor: plain `pg_dump -Fc` to a
 *     file with the same flags;
 *   - `silo tenant restore --latest` (s, MB/s, and the suspended window) next to the
 *     floor: plain `pg_restore` of the same file into a fresh database, and
 *     `pg_dump | pg_restore` straight into a fresh database;
 *   - `silo tenant move --to` a second embedded PostgreSQL: total time, silo's suspended
 *     window, and the window a client sees (first to last 503 of a GET loop).
 * Each case runs BENCH_DAYOPS_SAMPLES times (default 3); the report gives the median.
 * Writes bench/results/dayops-<stamp>.{md,json} and dayops-latest.{md,json}.
 */
import { mkdirSync, writeFileSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createStack, freePort, root } from './lib/stack.mjs';
import { httpRequest, now, round, run, sleep } from './lib/util.mjs';
import postgres from 'postgres';
import { startEmbedded } from '../dist/postgres/embedded.js';
import { findPgDump } from '../dist/postgres/pg-dump.js';

const SAMPLES = Number(process.env.BENCH_DAYOPS_SAMPLES || 3);
const VOTES = Number(process.env.BENCH_DAYOPS_VOTES || 100_000);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes) => bytes / 1048576;

const stack = await createStack();
let pg2;
let exitCode = 0;
const figures = { votes: VOTES, samples: SAMPLES, cases: {} };
try {
  await stack.cli(['up']);
  const pg2Port = await freePort();
  const password = 'bench-' + Math.random().toString(36).slice(2);
  pg2 = await startEmbedded({ dataDir: join(stack.home, 'pg2'), port: pg2Port, password, maxConnections: 200 });
  const pg2Url = `postgres://postgres:${password}@127.0.0.1:${pg2Port}/postgres`;
  await stack.cli(['server', 'add', 'db2'], { SILO_SERVER_URL: pg2Url });
  await stack.cli(['tenant', 'create', 'big', '--server', 'local']);

  const reg = stack.registry();
  const local = reg.servers.local;
  const { readFileSync } = await import('node:fs');
  const adminUrl = readFileSync(join(stack.home, 'secrets', 'servers', 'local.url'), 'utf8').trim();
  const admin = new URL(adminUrl);
  const big = postgres(adminUrl, { database: 'big', max: 1, onnotice: () => {} });
  await big.begin(async (tx) => {
    const [poll] = await tx`insert into polls (question) values ('Which one?') returning id`;
    const choices = await tx`insert into choices (poll_id, position, text) values (${poll.id}, 1, 'A'), (${poll.id}, 2, 'B'), (${poll.id}, 3, 'C') returning id`;
    const ids = choices.map((c) => c.id);
    const [a, b, c] = ids;
    await tx`insert into votes (choice_id, voter)
      select case g % 3 when 0 then ${a}::bigint when 1 then ${b}::bigint else ${c}::bigint end, 'voter-' || g
      from generate_series(1, ${VOTES}::int) g`;
    await tx`update choices c set votes = (select count(*) from votes v where v.choice_id = c.id) where c.poll_id = ${poll.id}`;
  });
  const [{ size }] = await big`select pg_database_size('big')::bigint as size`;
  await big.end();
  figures.databaseBytes = Number(size);

  const pgDump = await findPgDump(15);
  const pgRestore = await findPgDump(15, 'pg_restore');
  const pgEnv = { PATH: process.env.PATH, PGHOST: local.host, PGPORT: String(local.port), PGUSER: decodeURIComponent(admin.username), PGPASSWORD: decodeURIComponent(admin.password) };

  const sample = async (name, fn) => {
    const rows = [];
    for (let i = 0; i < SAMPLES; i++) rows.push(await fn(i));
    figures.cases[name] = rows;
    return rows;
  };

  // Floor: plain pg_dump to a file, the same flags silo uses.
  const floorFile = join(stack.home, 'floor.dump');
  await sample('pg_dump', async () => {
    rmSync(floorFile, { force: true });
    const t0 = now();
    const r = await run(pgDump, ['--format=custom', '--no-owner', '--no-privileges', `--file=${floorFile}`, '--dbname=big'], { env: pgEnv });
    if (r.code !== 0) throw new Error(r.stderr);
    return { s: (now() - t0) / 1000, bytes: statSync(floorFile).size };
  });
  await sample('silo tenant backup', async () => {
    const r = await stack.cli(['tenant', 'backup', 'big', '--json']);
    const e = JSON.parse(r.stdout);
    return { s: r.ms / 1000, bytes: e.bytes, dumpS: (Date.parse(e.finishedAt) - Date.parse(e.startedAt)) / 1000 };
  });
  const adminSql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await sample('pg_restore', async (i) => {
    const db = `floor_${i}`;
    await adminSql.unsafe(`drop database if exists ${db}`);
    await adminSql.unsafe(`create database ${db}`);
    const t0 = now();
    const r = await run(pgRestore, ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${db}`, floorFile], { env: pgEnv });
    if (r.code !== 0) throw new Error(r.stderr);
    const s = (now() - t0) / 1000;
    await adminSql.unsafe(`drop database ${db}`);
    return { s, bytes: statSync(floorFile).size };
  });
  await sample('pg_dump piped to pg_restore', async (i) => {
    const db = `floor_pipe_${i}`;
    await adminSql.unsafe(`drop database if exists ${db}`);
    await adminSql.unsafe(`create database ${db}`);
    const t0 = now();
    const r = await run('bash', ['-o', 'pipefail', '-c', `"${pgDump}" --format=custom --no-owner --no-privileges --dbname=big | "${pgRestore}" --no-owner --no-privileges --exit-on-error --single-transaction --dbname=${db}`], { env: pgEnv });
    if (r.code !== 0) throw new Error(r.stderr);
    const s = (now() - t0) / 1000;
    await adminSql.unsafe(`drop database ${db}`);
    return { s };
  });
  await adminSql.end();

  /** A GET loop on one tenant through the proxy: the window between its first and last 503. */
  function watch(tenant) {
    let first;
    let last;
    let n503 = 0;
    let other = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        const t = now();
        const r = await httpRequest(stack.httpPort, `${tenant}.localhost`, '/api/tenant', { timeoutMs: 10_000 }).catch(() => ({ status: 0 }));
        if (r.status === 503) {
          n503++;
          first ??= t;
          last = now();
        } else if (r.status !== 200) other++;
        await sleep(5);
      }
    })();
    return async () => {
      running = false;
      await loop;
      return { clientWindowMs: first === undefined ? 0 : last - first, answers503: n503, otherFailures: other };
    };
  }

  await sample('silo tenant restore', async () => {
    const stop = watch('big');
    const r = await stack.cli(['tenant', 'restore', 'big', '--latest', '--yes', '--discard-previous', '--json']);
    await sleep(200);
    const w = await stop();
    const res = JSON.parse(r.stdout);
    return { s: r.ms / 1000, bytes: res.backup.bytes, suspendedMs: res.suspendedMs, stepMs: res.stepMs, ...w };
  });

  await sample('silo tenant move', async (i) => {
    const to = i % 2 === 0 ? 'db2' : 'local';
    const stop = watch('big');
    const r = await stack.cli(['tenant', 'move', 'big', '--to', to, '--json']);
    await sleep(200);
    const w = await stop();
    const res = JSON.parse(r.stdout);
    return { s: r.ms / 1000, to, bytes: res.bytes, totalMs: res.totalMs, suspendedMs: res.suspendedMs, stepMs: res.stepMs, ...w };
  });
} catch (err) {
  console.error(`bench:dayops failed: ${err.stack ?? err}`);
  exitCode = 1;
} finally {
  await pg2?.stop().catch(() => undefined);
  const t = await stack.teardown();
  if (t.leftovers.length) {
    console.error(`leftover processes: ${t.leftovers.map((p) => p.pid).join(', ')}`);
    exitCode = 1;
  }
}

const dumpBytes = figures.cases['pg_dump']?.[0]?.bytes ?? 0;
const lines = [
  `# silo bench:dayops (${new Date().toISOString()})`,
  '',
  `A tenant with ${VOTES} votes: database ${round(mb(figures.databaseBytes ?? 0), 1)} MB, dump ${round(mb(dumpBytes), 1)} MB; median of ${SAMPLES} samples.`,
  'A silo command\'s time includes starting node and opening the admin connection (~0.3-0.5 s); "s (dump alone)" is pg_dump as timed by the manifest entry.',
  '',
];
lines.push('| case | s (command) | MB/s (database size / s) | s (dump alone) | unavailable (silo) ms | unavailable (client) ms |', '|---|---|---|---|---|---|');
for (const [name, rows] of Object.entries(figures.cases)) {
  const s = median(rows.map((r) => r.s));
  lines.push(
    `| ${name} | ${round(s, 2)} | ${name.startsWith('silo tenant move') || name.startsWith('silo tenant restore') || name.startsWith('silo tenant backup') || name.startsWith('pg_') ? round(mb(figures.databaseBytes) / s, 1) : '-'} | ${rows[0].dumpS !== undefined ? round(median(rows.map((r) => r.dumpS)), 2) : '-'} | ${rows[0].suspendedMs !== undefined ? Math.round(median(rows.map((r) => r.suspendedMs))) : '-'} | ${rows[0].clientWindowMs !== undefined ? Math.round(median(rows.map((r) => r.clientWindowMs))) : '-'} |`,
  );
}
for (const name of ['silo tenant restore', 'silo tenant move']) {
  const rows = figures.cases[name];
  if (!rows?.[0]?.stepMs) continue;
  const steps = Object.keys(rows[0].stepMs).map((k) => `${k} ${median(rows.map((r) => r.stepMs[k] ?? 0))}`);
  lines.push('', `${name}, ms per step (median): ${steps.join(', ')}`);
}
const md = lines.join('\n') + '\n';
process.stdout.write(md);
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
for (const name of [`dayops-${stamp}`, 'dayops-latest']) {
  writeFileSync(join(dir, `${name}.md`), md);
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(figures, null, 2));
}
process.exit(exitCode);
