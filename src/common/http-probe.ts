/** Small HTTP probes used to wait for workers and the proxy (loopback only). */
import { request } from 'node:http';

export interface ProbeResult {
  status: number;
  body: string;
}

export function probe(host: string, port: number, path: string, hostHeader?: string, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', headers: hostHeader ? { host: hostHeader } : {}, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Poll until `check` accepts a probe, or throw after `timeoutMs` with the last reason. */
export async function waitFor(what: string, timeoutMs: number, attempt: () => Promise<boolean | string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const r = await attempt();
      if (r === true) return;
      last = typeof r === 'string' ? r : '';
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
