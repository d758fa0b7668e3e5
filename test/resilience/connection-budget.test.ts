/**
 * A fleet per database server (issue 19): more tenants awake than their server has
 * connections, many of them busy at once, a neighbour under steady load; nothing fails.
 *
 * One stack whose embedded server has max_connections 22 (a budget of 11 for tenants,
 * src/servers/connection-budget.ts), TENANTS tenants, all awake. An awake tenant with
 * nothing to do holds no connection (SILO_DB_IDLE_TIMEOUT, 2 s here); workers started on a
 * crowded server get a pool of one, on which their queries queue. Then BUSY tenants are
 * loaded at once (4 loops each, 3 reads to 1 vote) while a neighbour gets a read every
 * 20 ms: 0 failed, the sessions on the server never above the budget, the neighbour's
 * p99 in the figures line. The 1,000-tenant version of this, at the level of the
 * database server, is `npm run bench:connections`.
 *
 * The extra tenants are provisioned in this process with the stack down (createTenant,
 * the steps `silo tenant create` runs), as bench/fleet.mjs does: through the CLI with the
 * stack up, a create took 4.5 s on the shared 2-core host, too long for one test file.
 * `silo up` then starts every worker.
 */
import t from 'tap';
import postgres from 'postgres';
import { Agent } from 'node:http';
import { startStack } from '../helpers/stack.js';
import { loops, printFigures, send, serverUrl, siloStatus, sleep, waitUntil } from '../helpers/resilience.js';
import { urlOptions } from '../helpers/postgres.js';
import { loadStackConfig } from '../../src/registry/settings.js';
import { readRegistry } from '../../src/registry/registry.js';
import { homePaths } from '../../src/common/paths.js';
import { embeddedOptions } from '../../src/servers/servers.js';
import { startEmbedded } from '../../src/postgres/embedded.js';
import { createTenant } from '../../src/tenant/create.js';

// 24 workers started, loaded, stopped: 128-160 s of a loaded 2-core machine, too near the default 180 s.
t.setTimeout(360_000);

const TENANTS = 24; // the two demo tenants and 22 more (stopping and removing each takes a while too)
const MAX_CONNECTIONS = 22;
const BUDGET = MAX_CONNECTIONS - 3 - 8; // less the superusers' reserve and silo's own
const BUSY = 10;
const LOAD_MS = 8000;

const stack = await startStack(t, { env: { SILO_PG_MAX_CONNECTIONS: String(MAX_CONNECTIONS), SILO_DB_IDLE_TIMEOUT: '2s', SILO_HIBERNATE_AFTER: '0' } });
const names = Array.from({ length: TENANTS - 2 }, (_, i) => `f${String(i + 1).padStart(2, '0')}`);
const admin = postgres({ ...urlOptions(serverUrl(stack)), max: 1, onnotice: () => {} });
t.teardown(() => admin.end({ timeout: 2 }));

/** Sessions the tenants' roles hold on the server now. */
async function tenantSessions(): Promise<number> {
  const [r] = await admin<{ n: number }[]>`
    select count(*)::int as n from pg_catalog.pg_stat_activity
    where backend_type = 'client backend' and usename <> 'postgres'`;
  return r!.n;
}

interface ServerConnections { used: number; budget: number; pool: number; awake: number; tenants: number; maxConnections: number }
async function budgetInStatus(): Promise<ServerConnections> {
  const s = JSON.parse((await siloStatus(stack)).raw) as { servers: { name: string; connections?: ServerConnections }[] };
  return s.servers.find((x) => x.name === 'local')!.connections!;
}

await t.test(`${TENANTS} tenants awake on a server of ${MAX_CONNECTIONS} connections hold none while idle`, async (t) => {
  const down = await stack.cli(['down']);
  t.equal(down.code, 0, down.stderr);
  // This process asks PM2 whether the stack runs: the stack's PM2_HOME, never ~/.pm2
  // (with the stack down there is no daemon there, and none is started).
  process.env.PM2_HOME = stack.env.PM2_HOME;
  const cfg = loadStackConfig({ ...stack.env });
  const server = await startEmbedded(embeddedOptions(cfg, readRegistry(homePaths(cfg.home).registry), 'local'));
  const started = performance.now();
  try {
    for (const name of names) await createTenant(cfg, name);
  } finally {
    await server.stop();
  }
  t.comment(`provisioned ${names.length} tenants in ${Math.round((performance.now() - started) / 1000)} s`);
  const up = await stack.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  for (const name of ['client1', 'client2', ...names]) {
    const r = await send(stack.httpPort, `${name}.localhost`, '/api/polls', { timeoutMs: 15_000 });
    t.equal(r.status, 200, `${name} answers`);
  }
  await waitUntil('idle tenants to give their connections back', 20_000, async () => (await tenantSessions()) === 0, 250);
  const c = await budgetInStatus();
  t.equal(c.maxConnections, MAX_CONNECTIONS, 'the server runs with SILO_PG_MAX_CONNECTIONS');
  t.equal(c.budget, BUDGET, 'status shows its budget');
  t.equal(c.tenants, TENANTS);
  t.equal(c.awake, TENANTS, `all ${TENANTS} awake, more than the server has connections`);
  t.equal(c.pool, 1, 'a crowded server gives each worker a pool of one');
  const human = await stack.cli(['status']);
  t.match(human.stdout, new RegExp(`^  connections: \\d+ of ${BUDGET} used by tenants \\(${TENANTS} of ${TENANTS} awake\\); ${BUDGET} busy at once at a pool of 1 each`, 'm'));
});

await t.test(`${BUSY} tenants busy at once and a steady neighbour: nothing fails`, async (t) => {
  const busy = names.slice(0, BUSY);
  const neighbour = 'client2';
  const polls = new Map<string, { id: number; choice: number }>();
  for (const name of busy) {
    const r = await send(stack.httpPort, `${name}.localhost`, '/api/polls', {
      method: 'POST',
      body: JSON.stringify({ question: `Busy ${name}?`, choices: ['yes', 'no'] }),
      timeoutMs: 15_000,
    });
    t.equal(r.status, 201, `${name}: a poll to vote on`);
    const poll = JSON.parse(r.text) as { id: number; choices: { id: number }[] };
    polls.set(name, { id: poll.id, choice: poll.choices[0]!.id });
  }

  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await tenantSessions());
      await sleep(100);
    }
  })();

  const agent = new Agent({ keepAlive: true, maxSockets: BUSY * 4 + 8 });
  const load = { sent: 0, failed: 0, wrong: 0, errors: [] as string[], ms: [] as number[] };
  const until = performance.now() + LOAD_MS;
  const work = loops(BUSY * 4, async (i) => {
    const name = busy[i % BUSY]!;
    const p = polls.get(name)!;
    const vote = (load.sent + i) % 4 === 3;
    const a = vote
      ? await send(stack.httpPort, `${name}.localhost`, `/api/polls/${p.id}/votes`, { method: 'POST', body: JSON.stringify({ choiceId: p.choice, voter: `v${load.sent}` }), agent, timeoutMs: 15_000 })
      : await send(stack.httpPort, `${name}.localhost`, '/api/polls', { agent, timeoutMs: 15_000 });
    load.sent++;
    load.ms.push(a.ms);
    if (a.status !== (vote ? 201 : 200)) {
      load.failed++;
      if (load.errors.length < 5) load.errors.push(`${name}: ${a.error ?? `HTTP ${a.status} ${a.text.slice(0, 100)}`}`);
    } else if (!vote && !a.text.includes(`Busy ${name}?`)) load.wrong++;
  }, () => performance.now() > until);

  const steady = { sent: 0, failed: 0, errors: [] as string[], ms: [] as number[] };
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; performance.now() < until; i++) {
    const wait = start + i * 20 - performance.now();
    if (wait > 0) await sleep(wait);
    inFlight.push(
      send(stack.httpPort, `${neighbour}.localhost`, '/api/tenant', { agent, timeoutMs: 15_000 }).then((a) => {
        steady.sent++;
        steady.ms.push(a.ms);
        if (a.status !== 200 || !a.text.includes(`"tenant":"${neighbour}"`)) {
          steady.failed++;
          if (steady.errors.length < 5) steady.errors.push(a.error ?? `HTTP ${a.status} ${a.text.slice(0, 100)}`);
        }
      }),
    );
  }
  await Promise.all(inFlight);
  await work.done;
  agent.destroy();
  sampling = false;
  await sampler;

  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
  printFigures(t, 'connection-budget', {
    sent: load.sent + steady.sent,
    failed: load.failed + steady.failed,
    wrongTenant: load.wrong,
    tenants: TENANTS,
    awake: TENANTS,
    maxConnections: MAX_CONNECTIONS,
    budget: BUDGET,
    busy: BUSY,
    peakSessions: peak,
    busyP50Ms: pct(load.ms, 0.5),
    busyP99Ms: pct(load.ms, 0.99),
    neighbourSent: steady.sent,
    neighbourFailed: steady.failed,
    neighbourP50Ms: pct(steady.ms, 0.5),
    neighbourP99Ms: pct(steady.ms, 0.99),
  });
  t.equal(load.failed, 0, `the busy tenants failed nothing ${load.errors.join('; ')}`);
  t.equal(load.wrong, 0, "never another tenant's data");
  t.equal(steady.failed, 0, `the neighbour failed nothing ${steady.errors.join('; ')}`);
  t.ok(load.sent > BUSY * 4, `load was sent (${load.sent})`);
  t.ok(peak <= BUDGET, `the tenants' sessions stayed within the budget (peak ${peak} of ${BUDGET})`);
});
