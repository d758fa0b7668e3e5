#!/usr/bin/env node
/**
 * `npm run bench:console` (= build, then this file): what a console page costs at 1,000
 * registered tenants. In-process and without a stack: a throwaway $SILO_HOME whose
 * registry holds CONSOLE_TENANTS tenants (default 10 and 1000), each with
 * CONSOLE_BACKUPS manifest entries (default 3), one release; the console plugin on a
 * Fastify instance with a real token; pages fetched with inject (no network). PM2 is
 * asked through its real client with a PM2_HOME where no daemon runs (an empty list:
 * 1,000 hibernated tenants). Prints median and p95 per page over CONSOLE_ROUNDS (30).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { percentiles, now, round } from './lib/util.mjs';

const home = mkdtempSync(join(tmpdir(), 'silo-bench-console-'));
process.env.PM2_HOME = join(home, 'pm2'); // before pm2 is imported: never the user's daemon
const { loadConfig } = await import('../dist/common/config.js');
const { consolePlugin } = await import('../dist/control/console/plugin.js');
const { createToken, verifyToken } = await import('../dist/control/tokens.js');
const { running } = await import('../dist/pm2/workers.js');

const sizes = (process.env.CONSOLE_TENANTS ?? '10,1000').split(',').map(Number);
const backups = Number(process.env.CONSOLE_BACKUPS ?? 3);
const rounds = Number(process.env.CONSOLE_ROUNDS ?? 30);

function fill(n) {
  const tenants = {};
  for (let i = 0; i < n; i++) {
    const name = `tenant${String(i).padStart(4, '0')}`;
    tenants[name] = { server: i % 3 ? 'local' : 'eu1', port: 20000 + i, domains: i % 10 ? [] : [`${name}.example.com`], state: 'ready', schemaVersion: 2, createdAt: new Date().toISOString(), ...(i % 50 ? {} : { suspended: { by: 'operator', since: new Date().toISOString() } }) };
    const dir = join(home, 'backups', name);
    mkdirSync(dir, { recursive: true });
    for (let b = 0; b < backups; b++) {
      const at = new Date(Date.now() - (b * 86400 + i) * 1000).toISOString();
      const file = join(dir, `${name}-${at.replace(/[:.]/g, '-')}.dump`);
      writeFileSync(file, '');
      writeFileSync(file.replace(/\.dump$/, '.json'), JSON.stringify({ tenant: name, file, kind: 'scheduled', server: 'local', schemaVersion: 2, bytes: 1000 + i, sha256: 'x', startedAt: at, finishedAt: at, domains: [] }));
    }
  }
  writeFileSync(join(home, 'registry.json'), JSON.stringify({ version: 1, servers: { local: { kind: 'embedded', host: '/tmp', port: 5432 }, eu1: { kind: 'external', host: 'db', port: 5432 } }, tenants }));
}

const PAGES = [
  ['fleet, page 1 (50 rows)', '/console/'],
  ['fleet, sorted by last backup', '/console/?sort=backup&dir=desc'],
  ['fleet, filtered by name', '/console/?q=tenant09'],
  ['fleet, 200 rows a page', '/console/?per=200&page=2'],
  ['one tenant', '/console/tenants/tenant0005'],
];

const cfg = loadConfig({ SILO_HOME: home, PATH: process.env.PATH });
const { token } = await createToken(home, { scope: 'read' });
const backend = { verifyToken: (t) => verifyToken(home, t), startJob: async () => { throw new Error('read only'); }, jobs: () => [], job: () => undefined };
const out = [];
try {
  for (const n of sizes) {
    rmSync(join(home, 'backups'), { recursive: true, force: true });
    fill(n);
    const app = Fastify();
    await app.register(consolePlugin, { prefix: '/console', cfg, backend, sources: { processes: running } });
    await app.ready();
    const login = await app.inject({ method: 'POST', url: '/console/login', payload: `token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    for (const [label, url] of PAGES) {
      const ms = [];
      let bytes = 0;
      for (let r = 0; r < rounds + 3; r++) {
        const t0 = now();
        const res = await app.inject({ url, headers: { cookie } });
        const t = now() - t0;
        if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`);
        bytes = res.body.length;
        if (r >= 3) ms.push(t); // the first few warm the JIT
      }
      const { p50, p95 } = percentiles(ms, [50, 95]);
      out.push({ tenants: n, page: label, p50: round(p50), p95: round(p95), kB: round(bytes / 1024) });
    }
    await app.close();
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
console.log(`console page render (in-process inject, ${backups} backups per tenant, ${rounds} rounds)\n`);
console.log('| tenants | page | p50 ms | p95 ms | size kB |\n|---|---|---|---|---|');
for (const r of out) console.log(`| ${r.tenants} | ${r.page} | ${r.p50} | ${r.p95} | ${r.kB} |`);
