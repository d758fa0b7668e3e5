/**
 * Load generation with autocannon, in this process. One autocannon instance per target
 * (a target is one port, or a Unix socket's path, + Host header), all started together, connections split evenly:
 * 1 tenant = 1 instance x 50 connections, 10 tenants = 10 instances x 5 connections.
 * Aggregate req/s counts 2xx responses only, over the measured window (warm-up excluded).
 * Latencies are collected from every response (autocannon's own histogram rounds to
 * whole milliseconds, too coarse for sub-millisecond medians).
 *
 * Cases that are compared with each other (direct / proxy / reference) are measured as a
 * group, interleaved: round 1 runs each member once, round 2 runs each again, and so on.
 * A burst of other work on the machine then hits every member of the group instead of
 * one, so the ratios between members hold better than with back-to-back runs.
 */
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { percentiles, round } from './util.mjs';

/** One slice: every target of one member loaded at once. */
async function slice(targets, connections, duration, warmup, cpu) {
  const cpuBefore = cpu?.snapshot();
  const per = Math.max(1, Math.floor(connections / targets.length));
  const latencies = [];
  const load1 = loadavg()[0];
  const runs = targets.map((t) => {
    const opts = {
      ...(typeof t.port === 'string' ? { url: 'http://localhost', socketPath: t.port } : { url: `http://127.0.0.1:${t.port}` }),
      connections: per,
      pipelining: 1,
      duration,
      headers: { host: t.host },
      requests: t.requests,
      timeout: 10,
    };
    if (warmup > 0) opts.warmup = { connections: per, duration: warmup };
    const instance = autocannon(opts);
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
    return instance;
  });
  const results = await Promise.all(runs);
  const cpuSeconds = cpu ? cpu.diff(cpuBefore, cpu.snapshot()) : null;
  const sum = (k) => results.reduce((a, r) => a + (r[k] ?? 0), 0);
  const codes = {};
  for (const r of results) for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) codes[code] = (codes[code] ?? 0) + count;
  return {
    per,
    instances: targets.length,
    measuredS: Math.max(...results.map((r) => r.duration)),
    ok: sum('2xx'),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    codes,
    latencies,
    load1,
    warm: warmup > 0,
    cpuSeconds,
  };
}

/**
 * CPU microseconds per 2xx response, per process group, over the slices without warm-up
 * (warm-up requests are not counted, so their CPU must not be either).
 */
function cpuPerRequest(slices) {
  const use = slices.some((s) => !s.warm) ? slices.filter((s) => !s.warm) : slices;
  if (use.some((s) => !s.cpuSeconds)) return null;
  const ok = use.reduce((a, s) => a + s.ok, 0);
  const secs = use.reduce((a, s) => a + s.measuredS, 0);
  const topOthers = new Map();
  for (const sl of use) for (const [comm, secs] of sl.cpuSeconds.topOthers ?? []) topOthers.set(comm, (topOthers.get(comm) ?? 0) + secs);
  const out = {
    basis: `${use.length} slice(s), ${ok} responses`,
    usPerRequest: {},
    coresBusy: {},
    topOtherProcesses: [...topOthers].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([comm, secs]) => ({ comm, cpuSeconds: round(secs, 2) })),
  };
  for (const k of Object.keys(use[0].cpuSeconds)) {
    const total = use.reduce((a, s) => a + s.cpuSeconds[k], 0);
    out.usPerRequest[k] = ok ? Math.round((total * 1e6) / ok) : null;
    out.coresBusy[k] = round(total / secs, 2);
  }
  return out;
}

function summarise(slices, params) {
  const latencies = slices.flatMap((s) => s.latencies);
  const measuredS = slices.reduce((a, s) => a + s.measuredS, 0);
  const ok = slices.reduce((a, s) => a + s.ok, 0);
  const statusCodes = {};
  for (const s of slices) for (const [c, n] of Object.entries(s.codes)) statusCodes[c] = (statusCodes[c] ?? 0) + n;
  const p = percentiles(latencies, [50, 90, 99]);
  return {
    instances: slices[0].instances,
    connectionsPerInstance: slices[0].per,
    connections: slices[0].per * slices[0].instances,
    rounds: slices.length,
    sliceSeconds: params.slice,
    warmupSeconds: params.warmup,
    pipelining: 1,
    measuredS: round(measuredS, 2),
    reqPerSec: Math.round(ok / measuredS),
    perRoundReqPerSec: slices.map((s) => Math.round(s.ok / s.measuredS)),
    ok,
    non2xx: slices.reduce((a, s) => a + s.non2xx, 0),
    errors: slices.reduce((a, s) => a + s.errors, 0),
    timeouts: slices.reduce((a, s) => a + s.timeouts, 0),
    statusCodes,
    latencyMs: { p50: round(p.p50, 2), p90: round(p.p90, 2), p99: round(p.p99, 2), samples: latencies.length },
    loadavg1: slices.map((s) => round(s.load1, 2)),
    cpu: cpuPerRequest(slices),
  };
}

/**
 * Measure the members of a group interleaved over `rounds`; warm-up only in round 1.
 * @param {{key:string, targets:{port:number, host:string, requests:object[]}[]}[]} members
 * @param {{connections:number, rounds:number, slice:number, warmup:number, cpu?:object}} params
 * @returns {Promise<Map<string, object>>}
 */
export async function measureGroup(members, params) {
  const slices = new Map(members.map((m) => [m.key, []]));
  for (let r = 0; r < params.rounds; r++) {
    for (const m of members) {
      slices.get(m.key).push(await slice(m.targets, params.connections, params.slice, r === 0 ? params.warmup : 0, params.cpu));
    }
  }
  return new Map([...slices].map(([k, s]) => [k, summarise(s, params)]));
}

/** autocannon request lists for the two endpoints. */
export function getPolls() {
  return [{ method: 'GET', path: '/api/polls' }];
}

/** Votes rotate over every choice of the tenant's polls, so they do not all queue on one row lock. */
export function postVotes(choices) {
  return choices.map(({ pollId, choiceId }) => ({
    method: 'POST',
    path: `/api/polls/${pollId}/votes`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ choiceId, voter: 'bench' }),
  }));
}
