/**
 * Listening on the tenant's Unix socket without a moment where the proxy finds a
 * half-made one (src/common/unix-socket.ts; 0660: the folder is the tenant's, setgid to
 * the proxy's group). At shutdown the path is unlinked first,
 * if it is still ours, so new connections go to the proxy's wake path (which holds them
 * until the next process is ready) instead of a closing server; connections already
 * queued on the socket are still accepted and served while the worker drains.
 */
import { lstatSync, rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { bindUnixSocket } from '../common/unix-socket.js';

/** Pending connections the kernel keeps for the socket (Node's default is 511). */
const BACKLOG = 2048;

export interface SocketListener {
  /** Unlink the socket path if it is still this process's (a successor may have replaced it). */
  release(): void;
}

export async function listenOnSocket(fastify: FastifyInstance, socket: string): Promise<SocketListener> {
  const ino = await bindUnixSocket(socket, { mode: 0o660 }, (temp) => fastify.listen({ path: temp, backlog: BACKLOG }));
  return {
    release() {
      try {
        if (lstatSync(socket).ino === ino) rmSync(socket, { force: true });
      } catch {
        // already gone
      }
    },
  };
}
