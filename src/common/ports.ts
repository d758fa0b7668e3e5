/**
 * Worker port allocation: the lowest port at or above the base that no registered
 * tenant holds and nothing else on the machine is listening on.
 */
import { createServer } from 'node:net';

export function nextFreeSlot(taken: Iterable<number>, base: number, limit = 65535): number {
  const used = new Set(taken);
  for (let p = base; p <= limit; p++) if (!used.has(p)) return p;
  throw new Error(`no free worker port between ${base} and ${limit}`);
}

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export async function allocatePort(taken: Iterable<number>, base: number, limit = 65535): Promise<number> {
  const skip = new Set(taken);
  for (;;) {
    const port = nextFreeSlot(skip, base, limit);
    if (await isPortFree(port)) return port;
    skip.add(port);
  }
}

/** A port the OS says is free right now (for tests and first-time embedded setup). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
