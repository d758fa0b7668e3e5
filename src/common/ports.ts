/**
 * Worker port allocation: the lowest port at or above the base that no registered
 * tenant holds and nothing else on the machine is listening on.
 */
import { readFileSync } from 'node:fs';
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

/**
 * A port free right now (for tests, and ports silo picks once: the embedded server's, the
 * ask endpoint's), chosen at random below the kernel's ephemeral range. A port the kernel
 * hands out for bind(0) comes from that range, the one it also takes the local port of
 * every outgoing connection from: between choosing such a port and binding it, a
 * connection to PostgreSQL or a load generator's request could take it ("port ... is
 * already in use" in a clean-clone run beside another). Falls back to bind(0) when the
 * range leaves too little room below it.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  const from = 20000;
  if (low - from >= 2000) {
    for (let i = 0; i < 100; i++) {
      const port = from + Math.floor(Math.random() * (low - from));
      if (await isPortFree(port)) return port;
    }
  }
  return kernelPort();
}

/** The first port of the kernel's ephemeral range (Linux's default 32768 elsewhere). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

function kernelPort(): Promise<number> {
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
