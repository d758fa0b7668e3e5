/**
 * Can another Unix user (the `postgres` system user, a tenant's own user) reach a path?
 * Under root, silo's services run as users that are neither the owner nor in the group
 * of the operator's folders, so what counts is the "others" execute bit of every folder
 * on the way. silo never changes the modes of folders it does not own; it finds the one
 * that blocks and says so, or places what must be reachable somewhere else.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const isRoot = (): boolean => process.getuid?.() === 0;

/** The first folder on the way to `path` (its ancestors, not itself) that others cannot enter. */
export function blockingFolder(path: string): { folder: string; mode: string } | undefined {
  const chain: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const folder of chain) {
    let mode: number;
    try {
      mode = statSync(folder).mode & 0o777;
    } catch {
      return undefined; // not there yet: whoever creates it decides its mode
    }
    if ((mode & 0o001) === 0) return { folder, mode: `0${mode.toString(8)}` };
  }
  return undefined;
}

/** Can others enter every folder down to and including `path`? */
export function reachableByOthers(path: string): boolean {
  if (blockingFolder(path)) return false;
  try {
    return (statSync(path).mode & 0o001) !== 0;
  } catch {
    return false;
  }
}
