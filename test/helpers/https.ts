/**
 * HTTPS requests for tests, the way a client on the internet makes them: the SNI name is
 * the host, and only the given CA certificates are trusted (never the system's, never
 * "insecure"). A handshake the proxy refuses rejects with the TLS error.
 */
import { Agent as HttpsAgent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the leaf certificate the proxy presented (a CN is a list when the name holds several) */
  peer: { subject?: string | string[]; issuer?: string | string[]; validTo?: string; serial?: string };
  alpn: string | false | null;
}

export function httpsGet(port: number, host: string, path: string, ca: string | string[], opts: { method?: string; body?: string; agent?: false } = {}): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', servername: host, headers: { host, ...(opts.body ? { 'content-type': 'application/json' } : {}) }, ca, agent: false, timeout: 15_000 },
      (res) => {
        const socket = res.socket as TLSSocket;
        const cert = socket.getPeerCertificate();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            peer: { subject: cert?.subject?.CN, issuer: cert?.issuer?.CN, validTo: cert?.valid_to, serial: cert?.serialNumber },
            alpn: socket.alpnProtocol,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Steady HTTPS load: `concurrency` loops over keep-alive connections, as test/helpers/load.ts does over HTTP. */
export function startHttpsLoad(port: number, host: string, path: string, ca: string | string[], concurrency = 2) {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: concurrency, ca, servername: host });
  const report = { sent: 0, failed: 0, retried: 0, errors: [] as string[] };
  let running = true;
  const once = (retry = true): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, servername: host, headers: { host }, ca, agent: retry ? agent : false, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          report.sent++;
          if (res.statusCode !== 200) {
            report.failed++;
            if (report.errors.length < 10) report.errors.push(`HTTP ${res.statusCode}`);
          }
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        // A reused idle connection closed by a proxy reload: retried once, counted (RFC 9112 9.3.1).
        if (retry && req.reusedSocket && /ECONNRESET|socket hang up/.test(err.message)) {
          report.retried++;
          once(false).then(resolve);
          return;
        }
        report.sent++;
        report.failed++;
        if (report.errors.length < 10) report.errors.push(err.message);
        resolve();
      });
      req.end();
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await once();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return report;
    },
  };
}
