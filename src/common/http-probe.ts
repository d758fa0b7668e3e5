/** Small HTTP probes used to wait for workers and the proxy (loopback or a Unix socket). */
import { request, type RequestOptions } from 'node:http';
import { request as tlsRequest } from 'node:https';

export interface ProbeResult {
  status: number;
  body: string;
}

export function probe(host: string, port: number, path: string, hostHeader?: string, timeoutMs = 2000): Promise<ProbeResult> {
  return get({ host, port }, path, hostHeader, timeoutMs);
}

/**
 * The same over HTTPS (SILO_TLS=on), the SNI name being the host: it checks routing, not
 * the certificate (a host may still serve its local stand-in while ACME issues).
 */
export function probeTls(host: string, port: number, path: string, hostHeader: string, timeoutMs = 2000): Promise<ProbeResult> {
  return get({ host, port, servername: hostHeader, rejectUnauthorized: false } as RequestOptions, path, hostHeader, timeoutMs, true);
}

/** The same over a Unix socket (a worker's, the waker's). */
export function probeSocket(socketPath: string, path: string, hostHeader?: string, timeoutMs = 2000): Promise<ProbeResult> {
  return get({ socketPath }, path, hostHeader ?? 'localhost', timeoutMs);
}

function get(where: RequestOptions, path: string, hostHeader: string | undefined, timeoutMs: number, tls = false): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const req = (tls ? tlsRequest : request)({ ...where, path, method: 'GET', headers: hostHeader ? { host: hostHeader } : {}, timeout: timeoutMs, agent: false }, (res) => {
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
    // Short: a worker is ready ~0.4 s after its start, and every create, up and reload
    // waits for one or two such moments (a probe of a missing socket costs nothing).
    await new Promise((r) => setTimeout(r, 25));
  }
}
