/**
 * A Unix socket that nobody it is not meant for can reach at any moment: bound under
 * `<path>.<pid>`, given its mode (and its group, root's file then), and only then renamed
 * over `<path>` (a crashed predecessor's stale file included). Every socket silo listens
 * on is made here: a tenant's worker (0660, its folder is setgid to the proxy's group),
 * the waker and the control API's socket for the proxy (0660 to the proxy's group, or 0600
 * without one), the control API (0600), the edge agent's for its nginx (0666: in its own
 * container, where nothing else runs).
 */
import { chmodSync, chownSync, renameSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:net';
import { listenOn } from './listen.js';

export interface SocketAccess {
  mode: number;
  /** Given to root and this group (the proxy's), when set. */
  group?: number;
}

/** Binds `path` through `listen` (called with the temporary path); the socket file's inode. */
export async function bindUnixSocket(path: string, access: SocketAccess, listen: (temp: string) => Promise<unknown>): Promise<number> {
  const temp = `${path}.${process.pid}`;
  rmSync(temp, { force: true });
  await listen(temp);
  chmodSync(temp, access.mode);
  if (access.group !== undefined) chownSync(temp, 0, access.group);
  const ino = statSync(temp).ino;
  renameSync(temp, path);
  return ino;
}

/** `listen` for a node:net or node:http server: resolves once it listens, rejects on its error. */
export function serverListen(server: Server, backlog?: number): (temp: string) => Promise<void> {
  return (temp) => listenOn(server, { path: temp, ...(backlog !== undefined ? { backlog } : {}) });
}

/** The access of a socket for the proxy: 0660 to its group, or 0600 when it runs as silo's own user. */
export function forProxy(group: number | undefined): SocketAccess {
  return group !== undefined ? { mode: 0o660, group } : { mode: 0o600 };
}
