/**
 * A server listening, as a promise: resolved once `server` (node:net or node:http) listens
 * on `where` (a Unix socket's path, or a TCP port and host), rejected on its error
 * (EADDRINUSE, EACCES...), which it then no longer listens for. Unix sockets go through
 * bindUnixSocket (unix-socket.ts), which gives them their mode before their path exists.
 */
import type { ListenOptions, Server } from 'node:net';

export function listenOn(server: Server, where: ListenOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
