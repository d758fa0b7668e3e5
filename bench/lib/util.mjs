/**
 * Small helpers for the benchmark: HTTP probes, timing, percentiles, child processes.
 * Bench-only code; nothing in src/ imports it.
 */
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

export const now = () => performance.now();

/** One HTTP request on a fresh connection (`port`: a loopback port or a Unix socket's path); resolves with status and body, never throws. */
export function httpRequest(port, host, path, { method = 'GET', body, timeoutMs = 5000 } = {}) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { host, connection: 'close' };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve) => {
    const where = typeof port === 'string' ? { socketPath: port } : { host: '127.0.0.1', port };
    const req = request({ ...where, path, method, headers, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', (err) => resolve({ status: 0, text: String(err) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, text: err.code ?? err.message }));
    req.end(payload);
  });
}

/** Poll until `check()` is truthy; returns the elapsed ms. */
export async function waitUntil(what, timeoutMs, check, intervalMs = 20) {
  const start = now();
  for (;;) {
    if (await check()) return now() - start;
    if (now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Nearest-rank percentile of an unsorted numeric array (copied, not mutated). */
export function percentiles(values, ps) {
  const sorted = Float64Array.from(values).sort();
  const out = {};
  for (const p of ps) {
    out[`p${p}`] = sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  }
  return out;
}

export const round = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(digits)));

/** Run a program to completion, capturing output. */
export function run(cmd, args, { env, cwd, timeoutMs = 300_000, onChild } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    onChild?.(child);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Wait for a pid to exit (signal 0 fails). */
export async function waitExit(pid, timeoutMs = 10_000) {
  const start = now();
  while (now() - start < timeoutMs) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await sleep(25);
  }
  return false;
}
