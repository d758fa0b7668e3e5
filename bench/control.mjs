#!/usr/bin/env node
/**
 * `npm run bench:control` (also part of `npm run bench`): create-to-first-200 of a new
 * tenant through the control API next to the CLI's, on a hermetic stack with
 * SILO_CONTROL=on (as bench/run.mjs: own SILO_HOME, PM2_HOME, free ports).
 *
 *   - CLI: from spawning `silo tenant create <n>` to the first 200 of
 *     `GET http://<n>.localhost/api/tenant` through the proxy (the command returns once the
 *     tenant is live, so this is mostly the command itself);
 *   - API: from `POST /v1/tenants` on the control socket to the first 200 through the proxy,
 *     the client polling `GET /v1/jobs/<id>` every 50 ms and the proxy every 20 ms once done.
 * BENCH_CONTROL_SAMPLES pairs (default 3), alternating which goes first; medians reported.
 * Writes bench/results/control-<stamp>.{md,json} and control-latest.{md,json}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { createStack, root } from './lib/stack.mjs';
import { httpRequest, now, sleep } from './lib/util.mjs';

const SAMPLES = Number(process.env.BENCH_CONTROL_SAMPLES || 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function api(socket, token, method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { host: 'localhost', authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) };
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method, headers, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, json: () => JSON.parse(text), text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const stack = await createStack();
let exitCode = 0;
const figures = { samples: SAMPLES, cli: [], api: [] };
try {
  await stack.cli(['up'], { SILO_CONTROL: 'on', SILO_HIBERNATE_AFTER: '0' });
  const socket = (await stack.status()).control.socket;
  const token = (await stack.cli(['token', 'create', '--scope', 'write'])).stdout.trimEnd().split('\n').at(-1);
  const firstOk = async (name, limitMs = 120_000) => {
    const start = now();
    while ((await httpRequest(stack.httpPort, `${name}.localhost`, '/api/tenant')).status !== 200) {
      if (now() - start > limitMs) throw new Error(`${name} never answered 200`);
      await sleep(20);
    }
  };

  const viaCli = async (name) => {
    const start = now();
    await stack.cli(['tenant', 'create', name]);
    const commandMs = now() - start;
    await firstOk(name);
    return { name, ms: now() - start, commandMs };
  };
  const viaApi = async (name) => {
    const start = now();
    const r = await api(socket, token, 'POST', '/v1/tenants', { name });
    if (r.status !== 202) throw new Error(`POST /v1/tenants: ${r.status} ${r.text}`);
    const acceptedMs = now() - start;
    const id = r.json().job.id;
    let job;
    for (;;) {
      job = (await api(socket, token, 'GET', `/v1/jobs/${id}`)).json();
      if (job.state === 'done' || job.state === 'failed') break;
      await sleep(50);
    }
    if (job.state !== 'done') throw new Error(`job ${id} failed: ${job.error}`);
    const jobMs = now() - start;
    await firstOk(name);
    return { name, ms: now() - start, acceptedMs, jobMs };
  };

  for (let i = 0; i < SAMPLES; i++) {
    const pair = i % 2 === 0 ? [['cli', viaCli], ['api', viaApi]] : [['api', viaApi], ['cli', viaCli]];
    for (const [kind, fn] of pair) figures[kind].push(await fn(`${kind}-${i}`));
  }
} catch (err) {
  console.error(`bench:control failed: ${err.stack ?? err}`);
  exitCode = 1;
} finally {
  const t = await stack.teardown();
  if (t.leftovers.length) {
    console.error(`leftover processes: ${t.leftovers.map((p) => p.pid).join(', ')}`);
    exitCode = 1;
  }
}

const ms = (rows, key) => (rows.length ? Math.round(median(rows.map((r) => r[key]))) : '-');
const md =
  [
    `# silo bench:control (${new Date().toISOString()})`,
    '',
    `A new tenant, created to its first 200 through the proxy; median of ${SAMPLES}, ms.`,
    '',
    '| via | create to first 200 | accepted (202) | job done | command returned |',
    '|---|---|---|---|---|',
    `| CLI \`silo tenant create\` | ${ms(figures.cli, 'ms')} | - | - | ${ms(figures.cli, 'commandMs')} |`,
    `| API \`POST /v1/tenants\` + polling | ${ms(figures.api, 'ms')} | ${ms(figures.api, 'acceptedMs')} | ${ms(figures.api, 'jobMs')} | - |`,
  ].join('\n') + '\n';
process.stdout.write(md);
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
for (const name of [`control-${stamp}`, 'control-latest']) {
  writeFileSync(join(dir, `${name}.md`), md);
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(figures, null, 2));
}
process.exit(exitCode);
