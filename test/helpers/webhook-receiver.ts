/** A webhook receiver as a team would run one: a real HTTP server on `port` that answers 204 and keeps what it got. */
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

export function webhookReceiver(port: number): Promise<{ got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        got,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    );
  });
}
