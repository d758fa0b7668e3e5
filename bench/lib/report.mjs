/**
 * Turns the results object of one bench run into the Markdown report.
 */

const fmt = (x, digits = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? 'n/a' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (x) => (x === null || x === undefined ? 'n/a' : `${Math.round(x * 100)}%`);
const ms = (x) => (x === null || x === undefined ? 'n/a' : x >= 1000 ? `${fmt(x / 1000, 2)} s` : `${fmt(x, x < 10 ? 2 : 0)} ms`);

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function flags(c) {
  const bad = c.non2xx + c.errors + c.timeouts;
  return bad === 0 ? '0' : `**${bad}** (${Object.entries(c.statusCodes).filter(([s]) => !s.startsWith('2')).map(([s, n]) => `${s}: ${n}`).join(', ') || `${c.errors} errors, ${c.timeouts} timeouts`})`;
}

export function renderMarkdown(r) {
  const out = [];
  const m = r.machine;
  out.push(`# silo bench, ${r.startedAt}`);
  out.push('');
  out.push(
    `Machine: ${m.cpuModel}, ${m.cpus} cores, ${fmt(m.memGB, 1)} GB RAM, ${m.os}. ` +
      `Node ${m.versions.node}, nginx ${m.versions.nginx}, Caddy ${m.versions.caddy}, PostgreSQL ${m.versions.postgres}, ` +
      `PM2 ${m.versions.pm2}, Fastify ${m.versions.fastify}, postgres.js ${m.versions.postgresJs}, autocannon ${m.versions.autocannon}. ` +
      `Commit ${m.git}.`,
  );
  out.push('');
  out.push(
    `> **${m.cpus} cores, shared**: the load generator (autocannon, in the bench process), the workers, the proxy and PostgreSQL ` +
      `all compete for the same CPUs, and other work on the machine adds noise (1-minute load average at start: ${fmt(m.loadavgAtStart, 2)}). ` +
      `Absolute figures are far below what a dedicated server gives; compare ratios between cases of the same run.`,
  );
  out.push('');
  const p = r.params;
  out.push(
    `Parameters: per case ${p.rounds} x ${p.slice} s measured, interleaved round by round with the cases it is compared with ` +
      `(a burst of outside load then hits all of them), ${p.warmup} s warm-up in round 1, after a pre-warm of every process of the phase (${p.prewarm} s GET + ${p.prewarm / 2} s POST on the workers, see "Warm-up"); ${p.connections} connections, pipelining 1; ` +
      `several tenants = one autocannon instance per tenant, connections split evenly (aggregate = sum of 2xx/s); ` +
      `latency percentiles over every response of the case. Pool max ${p.poolMax} per tenant (SILO_POOL_MAX). ` +
      `Votes rotate over the 6 choices of 2 seeded polls. Bench time ${fmt(r.totalSeconds, 0)} s (build excluded).`,
  );
  out.push('');

  out.push('## Targets');
  out.push('');
  out.push(table(['Target', 'Measured', 'Result'], r.targets.map((t) => [t.target, t.measured, t.pass === null ? 'n/a' : t.pass ? 'pass' : '**miss**'])));
  out.push('');

  out.push('## Throughput (req/s = 2xx per second, aggregate over tenants)');
  out.push('');
  out.push(
    table(
      ['Endpoint', 'Path', 'Tenants', 'Conns', 'req/s', 'p50', 'p99', 'vs direct', 'non-2xx / errors'],
      r.cases.map((c) => [c.endpoint, c.label, c.tenants, c.connections, fmt(c.reqPerSec), ms(c.latencyMs.p50), ms(c.latencyMs.p99), c.vsDirect === undefined ? '' : pct(c.vsDirect), flags(c)]),
    ),
  );
  out.push('');
  out.push('"direct" = autocannon to the worker\'s own Unix socket (PM2 fork mode, what nginx connects to); the nginx/Caddy rows are through the proxy on the same workers; "reference" = bench/reference/server.mjs, ONE Fastify process for all tenants picking a pool by Host (not part of silo). Caddy rows come from a second `silo up` (SILO_PROXY=caddy) on the same SILO_HOME and compare with the direct rows measured in that same phase.');
  out.push('');

  out.push('## Where the CPU goes (CPU microseconds per successful request, by process group)');
  out.push('');
  const cpuRows = [...r.cases, ...r.limits.filter((l) => l.cpu)].filter((c) => c.cpu);
  const us = (c, k) => fmt(c.cpu.usPerRequest[k]);
  out.push(
    table(
      ['Case', 'req/s', 'workers', 'PM2 daemon', 'PostgreSQL', 'proxy', 'reference/bare', 'load generator', 'rest of machine (cores busy)'],
      cpuRows.map((c) => [
        c.endpoint ? `${c.endpoint} ${c.label} x${c.tenants} (${c.phase})` : c.label,
        fmt(c.reqPerSec),
        us(c, 'workers'),
        us(c, 'pm2Daemon'),
        us(c, 'postgres'),
        us(c, 'proxy'),
        us(c, 'benchServers'),
        us(c, 'loadGenerator'),
        `${us(c, 'restOfMachine')} (${fmt(c.cpu.coresBusy.restOfMachine, 2)})`,
      ]),
    ),
  );
  out.push('');
  out.push('From /proc/<pid>/stat before and after each slice without warm-up. "rest of machine" is CPU used by processes outside this bench (other work on the host): the noise, in the same unit.');
  out.push('');

  if (r.warmupCurves?.length) {
    out.push('## Warm-up (JIT per process): req/s per slice of the pre-warm load, before the groups of each phase');
    out.push('');
    out.push(
      table(
        ['Phase', 'Path', 'Endpoint', 'Tenants', 'req/s per slice', 'server CPU us/req (workers or reference)'],
        r.warmupCurves.map((w) => [w.phase, w.label, w.endpoint, w.tenants, `${w.reqPerSec.map((x) => fmt(x)).join(' -> ')} (${w.sliceSeconds} s slices)`, fmt(w.workerCpuUsPerRequest)]),
      ),
    );
    out.push('');
    out.push('Each worker warms up on its own share of the traffic: with 10 tenants each process sees a tenth of the requests, so its code stays unoptimised ten times longer than one shared process\'s. The groups above were measured after this pre-warm (steady state); the first slice is what a cold or low-traffic worker delivers.');
    out.push('');
  }

  out.push('## Limits');
  out.push('');
  out.push(
    table(
      ['Case', 'Concurrency', 'ops/s', 'p50', 'p99', 'errors'],
      r.limits.map((l) => [l.label, l.connections, fmt(l.reqPerSec ?? l.queriesPerSec), ms(l.latencyMs.p50), ms(l.latencyMs.p99), (l.errors ?? 0) + (l.non2xx ?? 0)]),
    ),
  );
  out.push('');

  out.push('## Memory');
  out.push('');
  out.push(
    table(
      ['Stack', 'Worker RSS (ps) median / max', 'Worker median: anon + file; PSS; USS', 'Workers sum', 'PM2 daemon', 'PostgreSQL (all processes)', 'Proxy (all processes)', 'Whole stack RSS', 'Whole stack PSS'],
      r.memory.map((s) => [
        s.label,
        `${fmt(s.workerRssMB.median, 1)} / ${fmt(s.workerRssMB.max, 1)} MB`,
        `${fmt(s.workerMedianMB.rssAnon, 1)} + ${fmt(s.workerMedianMB.rssFile, 1)}; ${fmt(s.workerMedianMB.pss, 1)}; ${fmt(s.workerMedianMB.uss, 1)} MB`,
        `${fmt(s.groups.workers.rssMB)} MB`,
        `${fmt(s.groups.pm2Daemon.rssMB)} MB`,
        `${fmt(s.groups.postgres.rssMB)} MB (${s.groups.postgres.processes})`,
        `${fmt(s.groups.proxy.rssMB)} MB (${s.groups.proxy.processes})`,
        `${fmt(s.groups.total.rssMB)} MB (${s.groups.total.processes})`,
        `${fmt(s.groups.total.pssMB)} MB`,
      ]),
    ),
  );
  out.push('');
  out.push(
    'RSS sums count shared pages (PostgreSQL shared buffers, Node\'s binary) once per process; PSS splits them fairly and is the better total. ' +
      'A worker\'s RSS is anonymous memory (its own heap) plus file-backed pages (mostly the node binary, shared by every worker); USS = pages only it holds, what one more tenant really costs.' +
      (m.damonPageout ? ' This kernel runs DAMON with a "pageout" scheme: cold pages of idle processes get reclaimed, so an idle worker\'s RSS drifts down (file pages first) and varies from worker to worker.' : ''),
  );
  if (r.extraMemory?.length) {
    out.push('');
    out.push(table(['Process', 'RSS'], r.extraMemory.map((e) => [e.label, `${fmt(e.rssMB, 1)} MB`])));
  }
  out.push('');

  out.push('## Onboarding, migrations, start-up');
  out.push('');
  out.push(table(['Measure', 'Figure', 'Detail'], r.timings.map((t) => [t.label, t.figure, t.detail ?? ''])));
  out.push('');

  if (r.variants?.length) {
    out.push(`## Variants of the worker (prototypes for src/ changes; direct, 1 tenant each, all running at once, interleaved ${r.params.variantRounds} x ${r.params.variantSlice} s)`);
    out.push('');
    out.push('Each variant is a PM2 app started from the same app definition silo builds (src/pm2/ecosystem.ts) with one setting changed, in place of one tenant\'s worker. Throughput ratios are noisy here; CPU per request (worker + PM2 daemon) is the steadier evidence.');
    out.push('');
    out.push(
      table(
        ['Variant', 'idle RSS', 'start to first 200', 'GET req/s', 'GET p50 / p99', 'GET vs as shipped', 'GET CPU us/req worker + PM2 daemon', 'POST req/s', 'POST p50 / p99', 'POST vs as shipped', 'POST CPU us/req worker + PM2 daemon'],
        r.variants.map((v) => [
          v.label,
          `${fmt(v.idleRssMB, 1)} MB`,
          ms(v.startToFirst200Ms),
          fmt(v.get.reqPerSec),
          `${ms(v.get.latencyMs.p50)} / ${ms(v.get.latencyMs.p99)}`,
          pct(v.getVsBase),
          v.get.cpu ? `${fmt(v.get.cpu.usPerRequest.workers)} + ${fmt(v.get.cpu.usPerRequest.pm2Daemon)}` : 'n/a',
          fmt(v.post.reqPerSec),
          `${ms(v.post.latencyMs.p50)} / ${ms(v.post.latencyMs.p99)}`,
          pct(v.postVsBase),
          v.post.cpu ? `${fmt(v.post.cpu.usPerRequest.workers)} + ${fmt(v.post.cpu.usPerRequest.pm2Daemon)}` : 'n/a',
        ]),
      ),
    );
    out.push('');
  }

  if (r.variantsSkipped) out.push(`Variants skipped to stay within the time budget: ${r.variantsSkipped}.\n`);
  out.push(`Teardown: \`silo down\` ${r.teardown.downCode === 0 ? 'ok' : `exit ${r.teardown.downCode}`}; processes left: ${r.teardown.leftovers.length === 0 ? 'none' : r.teardown.leftovers.map((l) => `${l.pid} ${l.cmd}`).join('; ')}.`);
  if (r.error) out.push(`\n**The run failed**: ${r.error}`);
  return out.join('\n') + '\n';
}
