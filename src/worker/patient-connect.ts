/**
 * How the worker's pool opens a connection to its database server (postgres.js's `socket`
 * option): a plain connect, except when a server that was reachable starts refusing
 * (ECONNREFUSED; ENOENT: the server's Unix socket is not there). Then, for up to
 * `patienceMs` from the first refusal, connects are tried again every 50 ms before the
 * refusal counts; once the patience is spent, refusals count at once until a connect
 * succeeds again. A server that never answered is refused at once, as before.
 *
 * postgres.js 4 fails every query waiting for a connection at once when a connect is
 * refused, and fails new ones at once during its back-off. A database server that
 * restarts (PM2 restarting a killed embedded server: about a second) turned into hundreds
 * of 503s: the kill-postgres scenario went from 8 failed of 1,680 requests (postgres.js 3,
 * whose queries waited out its reconnect back-off) to 489 of 1,892. With this, queries
 * wait for a restart shorter than the patience, as they did; a server that stays down is
 * 503 again, at once, after the patience.
 *
 * A server that listens but is still recovering (after a kill, for some tens of ms) answers
 * the startup message with FATAL 57P03 "cannot connect now", which postgres.js also takes
 * as a hard failure: its queries failed for 400 ms more, a back-off per attempt. So the
 * first message of a connection is looked at, and a 57P03 closes the socket instead:
 * postgres.js takes a closed connection as transient, keeps its queries waiting and
 * tries again after its back-off, within the connect timeout.
 *
 * TLS is postgres.js's own (it upgrades this socket after its SSLRequest; a 57P03 inside
 * TLS is not seen here).
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';

const REFUSED = new Set(['ECONNREFUSED', 'ENOENT']);
const RETRY_MS = 50;

function once(target: { path: string } | { host: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(target);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** An ErrorResponse ('E') whose SQLSTATE field ('C') is 57P03. */
const isCannotConnectNow = (chunk: Buffer) => chunk[0] === 0x45 && chunk.includes('\0C57P03\0');

/** The socket's first chunk of data is withheld and the socket closed if it is a 57P03. */
function closeOnCannotConnectNow(socket: Socket): Socket {
  const emit = socket.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
  socket.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'data') return emit.call(this, event, ...args);
    socket.emit = emit as typeof socket.emit; // the first chunk only
    if (Buffer.isBuffer(args[0]) && isCannotConnectNow(args[0])) {
      socket.destroy(); // 'close' without an error: CONNECTION_CLOSED to postgres.js
      return true;
    }
    return emit.call(this, event, ...args);
  } as typeof socket.emit;
  return socket;
}

/** postgres.js `socket` option: `(options, host, port) => Promise<Socket>`. One per pool. */
export function patientConnect(patienceMs: number) {
  let reachable = false;
  let refusedSince: number | undefined;
  return async (options: postgres.ParsedOptions, host: string, port: number): Promise<postgres.SocketLike> => {
    const path = (options as { path?: string | false }).path;
    const target = path ? { path } : { host, port };
    for (;;) {
      try {
        const socket = await once(target);
        reachable = true;
        refusedSince = undefined;
        // A net.Socket is what postgres.js itself uses (its SocketLike type is narrower).
        return closeOnCannotConnectNow(socket) as unknown as postgres.SocketLike;
      } catch (err) {
        if (!reachable || !REFUSED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
        refusedSince ??= Date.now();
        if (Date.now() - refusedSince + RETRY_MS > patienceMs) {
          reachable = false; // spent: refusals count at once until a connect succeeds
          refusedSince = undefined;
          throw err;
        }
        await sleep(RETRY_MS);
      }
    }
  };
}
