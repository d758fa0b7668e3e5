/**
 * Listening on the tenant's Unix socket without a moment where the proxy finds a
 * half-made one: bind `<socket>.<pid>`, open it to the proxy's group (0660: the folder
 * is the tenant's, setgid to the proxy's group), then rename it over `<socket>` (a
 * crashed predecessor's stale file included). At shutdown the path is unlinked first,
 * if it is still ours, so new connections go to the proxy's wake path (which holds them
 * until the next process is ready) instead of a closing server; connections already
 * queued on the socket are still accepted and served while the worker drains.
 */
import { chmodSync, lstatSync, renameSync, rmSync, statSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/** Pending connections the kernel keeps for the socket (Node's default is 511). */
const BACKLOG = 2048;

export interface SocketListener {
  /** Unlink the socket path if it is still this process's (a successor may have replaced it). */
  release(): void;
}

export async function listenOnSocket(fastify: FastifyInstance, socket: string): Promise<SocketListener> {
  const temp = `${socket}.${process.pid}`;
  rmSync(temp, { force: true });
  await fastify.listen({ path: temp, backlog: BACKLOG });
  chmodSync(temp, 0o660);
  const ino = statSync(temp).ino;
  renameSync(temp, socket);
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
