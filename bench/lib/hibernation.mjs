/**
 * Hibernation figures, shared by `npm run bench` and `npm run bench:fleet`: the first
 * response of a hibernated tenant through the proxy (the wake), and a wake storm (many
 * hibernated tenants hit at once). Tenants are put to sleep through the waker's own
 * endpoint, as `silo tenant sleep` does (without a CLI start per tenant).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { httpRequest, now, percentiles, sleep, waitUntil } from './util.mjs';
import { summarisePhases, wakePhases } from './wake-phases.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The waker's Unix socket (only root and the proxy's user may connect: the bench runs as root or as the stack's user). */
async function wakerPort(home) {
  const { runPaths } = await import(join(root, 'dist', 'common', 'run-dir.js'));
  return runPaths(home).wakerSocket;
}

function post(socketPath, path, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, headers: { host: 'waker' }, path, method: 'POST', timeout: timeoutMs, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Put tenants to sleep (one at a time, each returns once its worker has stopped). */
export async function hibernate(home, tenants) {
  const port = await wakerPort(home);
  for (const t of tenants) {
    const r = await post(port, `/_silo/sleep/${t}`);
    if (r.status !== 200) throw new Error(`sleep ${t}: HTTP ${r.status} ${r.text}`);
  }
}

/** Wake tenants without a client request (for a memory reading with N awake). */
export async function wake(home, tenants) {
  const port = await wakerPort(home);
  for (const t of tenants) {
    const r = await post(port, `/_silo/wake/${t}`);
    if (r.status !== 200) throw new Error(`wake ${t}: HTTP ${r.status} ${r.text}`);
  }
}

/**
 * First response of a hibernated tenant through the proxy: for each sample, put one
 * tenant to sleep, pause, then time one GET (the wake plus the request).
 */
export async function wakeLatency({ home, httpPort, tenants, samples, path = '/api/polls' }) {
  const ms = [];
  const failures = [];
  const phases = [];
  for (let i = 0; i < samples; i++) {
    const t = tenants[i % tenants.length];
    await hibernate(home, [t]);
    await sleep(300);
    const sentAt = performance.timeOrigin + now();
    const start = now();
    const r = await httpRequest(httpPort, `${t}.localhost`, path, { timeoutMs: 60_000 });
    const took = now() - start;
    if (r.status !== 200) failures.push({ tenant: t, status: r.status, body: r.text.slice(0, 200) });
    ms.push(took);
    phases.push(await wakePhases(home, t, sentAt, sentAt + took));
  }
  // and the next request of an awake tenant, for comparison
  const warm = [];
  for (let i = 0; i < Math.min(samples, tenants.length); i++) {
    const t = tenants[i % tenants.length];
    const start = now();
    await httpRequest(httpPort, `${t}.localhost`, path);
    warm.push(now() - start);
  }
  return { samples: ms.length, failures, ms: percentiles(ms, [50, 95, 100]), awakeMs: percentiles(warm, [50, 95]), phases: summarisePhases(phases) };
}

/** All `tenants` hibernated, then one GET each, all at once. */
export async function wakeStorm({ home, httpPort, tenants, path = '/api/polls', onStart }) {
  await hibernate(home, tenants);
  await sleep(500);
  onStart?.();
  const start = now();
  const results = await Promise.all(
    tenants.map(async (t) => {
      const s = now();
      const r = await httpRequest(httpPort, `${t}.localhost`, path, { timeoutMs: 120_000 }).catch((err) => ({ status: 0, error: String(err) }));
      return { tenant: t, status: r.status, ms: now() - s };
    }),
  );
  const wall = now() - start;
  const failed = results.filter((r) => r.status !== 200);
  return {
    tenants: tenants.length,
    failed: failed.length,
    failures: failed.slice(0, 5),
    ms: percentiles(results.map((r) => r.ms), [50, 95, 100]),
    wallMs: wall,
  };
}

/** Wait until the stack's status shows `n` tenants hibernated. */
export async function waitHibernated(stack, names, timeoutMs = 60_000) {
  await waitUntil(`${names.length} tenants hibernated`, timeoutMs, async () => {
    const st = await stack.status();
    return st.tenants.filter((t) => names.includes(t.name) && t.worker === 'hibernated').length === names.length;
  }, 500);
}
