/**
 * HTTPS requests for tests, the way a client on the internet makes them: the SNI name is
 * the host, and only the given CA certificates are trusted (never the system's, never
 * "insecure"). A handshake the proxy refuses rejects with the TLS error.
 */
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the leaf certificate the proxy presented */
  peer: { subject?: string; issuer?: string; validTo?: string; serial?: string };
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
