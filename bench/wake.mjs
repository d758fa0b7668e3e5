#!/usr/bin/env node
/**
 * `npm run bench:wake` (= build, then this file): the first response of a hibernated
 * tenant through nginx, WAKE_SAMPLES times (default 20) over WAKE_TENANTS tenants
 * (default 4), with where each wake's time went (bench/lib/wake-phases.mjs), p50 and p95
 * per phase. A hermetic stack, torn down at the end. The same figures are in
 * `npm run bench` (section F); this one runs in about a minute.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { createStack, root } from './lib/stack.mjs';
import { wakeLatency } from './lib/hibernation.mjs';
import { phaseRows } from './lib/wake-phases.mjs';
import { httpRequest } from './lib/util.mjs';

const samples = Number(process.env.WAKE_SAMPLES ?? 20);
const count = Number(process.env.WAKE_TENANTS ?? 4);
const log = (line) => process.stderr.write(`[wake] ${line}\n`);

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
  log(`${samples} wakes through nginx`);
  const w = await wakeLatency({ home: stack.home, httpPort: stack.httpPort, tenants, samples });
  const f = (x) => `${Math.round(x)} ms`;
  out = [
    `# bench:wake ${new Date().toISOString()}`,
    '',
    `Command: \`npm run bench:wake\` (WAKE_SAMPLES=${samples}, ${tenants.length} tenants), node ${process.version}, ${cpus().length} cores, load average before: see results JSON.`,
    '',
    `First response of a hibernated tenant through nginx (GET /api/polls): p50 ${f(w.ms.p50)}, p95 ${f(w.ms.p95)}, max ${f(w.ms.p100)}; ${w.failures.length} not 200; awake p50 ${f(w.awakeMs.p50)}.`,
    '',
    `Where it went (${w.phases.samples} wakes with both log lines):`,
    '',
    '| phase | p50 | p95 |',
    '|---|---|---|',
    ...phaseRows(w.phases),
    '',
  ].join('\n');
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'wake-latest.json'), JSON.stringify(w, null, 2));
  writeFileSync(join(dir, 'wake-latest.md'), out);
  if (w.failures.length) code = 1;
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
