#!/usr/bin/env node
/**
 * What TLS costs: `GET /api/polls` direct to a worker (its Unix socket), through nginx
 * over HTTP, and through nginx over HTTPS (SILO_TLS=on, silo's local CA, a certificate
 * file per host picked by SNI), for 1 and 10 tenants at once, each over keep-alive
 * connections and with a new connection every 2 requests (autocannon's reconnectRate 2:
 * over HTTPS a full handshake each time, no session resumption). autocannon does not
 * record the response after which it reconnects (reconnectRate 1 records nothing), so
 * that case's req/s is twice what it recorded: both requests of a connection completed. Run at the end of `npm run
 * bench`, and alone by `npm run bench:tls`. A hermetic stack, torn down at the end.
 *
 * BENCH_TLS_SECONDS (default 5) per case; BENCH_TLS_CONNECTIONS (default 8) in total,
 * spread over the tenants of a case.
 */
import autocannon from 'autocannon';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createStack, freePort, root } from './lib/stack.mjs';
import { runPaths } from '../dist/common/run-dir.js';

const seconds = Number(process.env.BENCH_TLS_SECONDS ?? 5);
const connections = Number(process.env.BENCH_TLS_CONNECTIONS ?? 8);
const log = (line) => process.stderr.write(`[tls] ${line}\n`);

function cannon(opts) {
  return new Promise((resolve, reject) => {
    const inst = autocannon({ duration: seconds, pipelining: 1, ...opts }, (err, res) => (err ? reject(err) : resolve(res)));
    autocannon.track(inst, { renderProgressBar: false, renderResultsTable: false, renderLatencyTable: false, outputStream: { write() {} } });
  });
}

/** Every tenant of `names` at once, `connections` spread over them; summed req/s, worst p99. */
async function measure(target, names, stack, httpsPort, newConnections) {
  const per = Math.max(1, Math.floor(connections / names.length));
  const runs = names.map((t) => {
    const host = `${t}.localhost`;
    const common = { connections: per, headers: { host }, ...(newConnections ? { reconnectRate: 2 } : {}) };
    if (target === 'direct') return cannon({ ...common, url: `http://localhost/api/polls`, socketPath: runPaths(stack.home).workerSocket(t) });
    if (target === 'nginx-http') return cannon({ ...common, url: `http://127.0.0.1:${stack.httpPort}/api/polls` });
    return cannon({ ...common, url: `https://127.0.0.1:${httpsPort}/api/polls`, servername: host });
  });
  const results = await Promise.all(runs);
  const bad = results.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0);
  return {
    reqPerSec: Math.round(results.reduce((n, r) => n + r.requests.average, 0) * (newConnections ? 2 : 1)),
    p50Ms: Math.max(...results.map((r) => r.latency.p50)),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    failed: bad,
  };
}

const stack = await createStack();
const httpsPort = await freePort();
const rows = [];
let code = 0;
try {
  const tenants = ['client1', 'client2'];
  log('silo up (HTTP)');
  await stack.cli(['up']);
  for (let i = 3; i <= 10; i++) {
    await stack.cli(['tenant', 'create', `t${i}`]);
    tenants.push(`t${i}`);
  }
  const sets = [tenants.slice(0, 1), tenants];
  const phase = async (targets) => {
    for (const names of sets) {
      for (const newConnections of [false, true]) {
        for (const target of targets) {
          await measure(target, names, stack, httpsPort, newConnections); // warm-up, not recorded
          const m = await measure(target, names, stack, httpsPort, newConnections);
          const row = { target, tenants: names.length, connections: newConnections ? 'new every 2 requests' : 'keep-alive', ...m };
          rows.push(row);
          log(`${target} ${names.length} tenant(s) ${row.connections}: ${m.reqPerSec} req/s p50 ${m.p50Ms} ms p99 ${m.p99Ms} ms failed ${m.failed}`);
          if (m.failed) code = 1;
        }
      }
    }
  };
  await phase(['direct', 'nginx-http']);
  log('silo down, SILO_TLS=on silo up');
  await stack.cli(['down']);
  const up = await stack.cli(['up'], { SILO_TLS: 'on', SILO_HTTPS_PORT: String(httpsPort) });
  if (up.code !== 0) throw new Error(`silo up with TLS failed: ${up.stderr}`);
  await phase(['nginx-https']);
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  code = 1;
} finally {
  await stack.cli(['down'], { SILO_TLS: 'on', SILO_HTTPS_PORT: String(httpsPort) }).catch(() => undefined);
  const td = await stack.teardown();
  if (td.leftovers.length) {
    log(`left ${td.leftovers.length} processes`);
    code = 1;
  }
}

const find = (target, tenants, conn) => rows.find((r) => r.target === target && r.tenants === tenants && r.connections === conn);
const lines = [
  `# bench:tls ${new Date().toISOString()}`,
  '',
  `\`npm run bench:tls\`: GET /api/polls, ${seconds} s per case after a warm-up, ${connections} connections in total; node ${process.version}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end.`,
  '',
  '| tenants | connections | direct (Unix socket) | nginx HTTP | nginx HTTPS | HTTPS / HTTP |',
  '|---|---|---|---|---|---|',
];
for (const tenants of [1, 10]) {
  for (const conn of ['keep-alive', 'new every 2 requests']) {
    const [d, h, s] = ['direct', 'nginx-http', 'nginx-https'].map((t) => find(t, tenants, conn));
    const cell = (r) => (r ? `${r.reqPerSec} req/s (p99 ${r.p99Ms} ms)` : '-');
    lines.push(`| ${tenants} | ${conn} | ${cell(d)} | ${cell(h)} | ${cell(s)} | ${h && s ? `${Math.round((100 * s.reqPerSec) / h.reqPerSec)}%` : '-'} |`);
  }
}
const out = lines.join('\n') + '\n';
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'tls-latest.json'), JSON.stringify(rows, null, 2));
writeFileSync(join(dir, 'tls-latest.md'), out);
process.stdout.write(out);
process.exit(code);
