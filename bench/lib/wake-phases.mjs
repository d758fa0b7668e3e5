/**
 * Where one wake's time went, read from the logs the stack already writes: the waker's
 * `woke` line (when it took the request, listed PM2, got a start slot, PM2 answered the
 * start, the worker was ready) and the worker's `started` line (its process start, and
 * when node was up, its modules loaded, the app built, the socket listening), placed
 * between the client's send and its response. All clocks are this host's (epoch ms).
 *
 *   proxy to waker   nginx tries the worker's socket, fails, asks the waker
 *   waker            PM2 listing, a start slot
 *   PM2 start        pm2.start() asked until the worker process began (daemon, sh, setpriv, exec)
 *   node start       node's own bootstrap
 *   module loading   the worker's imports (fastify, postgres.js, the app)
 *   app registration plugins, routes, schemas: fastify.ready()
 *   listen           binding its socket
 *   database, ready  listening until the waker saw /readyz 200 (connect, schema check, probe interval)
 *   proxy to worker  the waker's answer until the client has the worker's response
 *
 * Beside the phases: the CPU time the worker had used when it listened (from its
 * `started` line), which the machine's load does not stretch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentiles, round, sleep } from './util.mjs';

export const PHASES = ['proxy to waker', 'waker', 'PM2 start', 'node start', 'module loading', 'app registration', 'listen', 'database, ready', 'proxy to worker'];

function lastLine(file, match) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 200; i--) {
    if (!lines[i].startsWith('{')) continue;
    try {
      const o = JSON.parse(lines[i]);
      if (match(o)) return o;
    } catch {
      // a line cut by a concurrent write
    }
  }
  return undefined;
}

/**
 * The phases of the wake of `tenant` whose request was sent at `sentAt` and answered at
 * `doneAt` (epoch ms); undefined when the logs do not hold both lines (yet).
 */
export async function wakePhases(home, tenant, sentAt, doneAt) {
  const logs = join(home, 'logs');
  for (let tries = 0; tries < 20; tries++) {
    const woke = lastLine(join(logs, 'waker.out.log'), (o) => o.msg === 'woke' && o.tenant === tenant && o.at >= sentAt - 5);
    const boot = lastLine(join(logs, `tenant-${tenant}.out.log`), (o) => o.msg === 'started' && o.boot && o.boot.at >= sentAt - 5)?.boot;
    if (woke && boot && woke.steps?.pm2 !== undefined) {
      const s = woke.steps;
      const readyAt = woke.at + woke.ms;
      return {
        'proxy to waker': woke.at - sentAt,
        waker: s.slot,
        'PM2 start': boot.at - (woke.at + s.slot),
        'node start': boot.node,
        'module loading': boot.loaded - boot.node,
        'app registration': boot.registered - boot.loaded,
        listen: boot.listening - boot.registered,
        'database, ready': readyAt - (boot.at + boot.listening),
        'proxy to worker': doneAt - readyAt,
        // for reading: when PM2 answered the start, from the process's own start
        'pm2.start() returned after process start': woke.at + s.pm2 - boot.at,
        // the CPU the worker had used when it listened (its own work, whatever the load)
        ...(boot.cpu !== undefined ? { 'worker CPU to listening': boot.cpu } : {}),
      };
    }
    await sleep(50);
  }
  return undefined;
}

/** p50 and p95 of each phase over `samples` (each a wakePhases() result). */
export function summarisePhases(samples) {
  const ok = samples.filter(Boolean);
  const out = { samples: ok.length };
  for (const phase of Object.keys(ok[0] ?? {})) {
    const p = percentiles(ok.map((x) => x[phase]), [50, 95]);
    out[phase] = { p50: round(p.p50), p95: round(p.p95) };
  }
  return out;
}

/** The breakdown as markdown rows: phase, p50, p95. */
export function phaseRows(summary) {
  return [...PHASES, 'worker CPU to listening'].filter((p) => summary[p]).map((p) => `| ${p} | ${summary[p].p50} ms | ${summary[p].p95} ms |`);
}
