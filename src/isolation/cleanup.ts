/**
 * What a silo home leaves on the machine outside its folder, under root: one Unix user
 * per tenant, the proxy's user, the run folder of its sockets and the CPU groups. `silo down` keeps them (the stack comes back with
 * `silo up`); a throwaway home (a test stack) removes them with its folder.
 */
import { resolve } from 'node:path';
import { removeSystemUser, usersMadeFor } from './os-users.js';
import { removeHomeCgroups } from './cgroups.js';
import { tenantUsersOf } from './tenant-user.js';
import { forgetRunDirs, removeProxyUsers } from './run-dirs.js';

/** Every home in `folder` (or that home) that silo made a user for, and `folder` itself. */
function homesIn(folder: string): string[] {
  const made = usersMadeFor(folder, /^silo (?:tenant \S+|proxy) of (.*)$/).map((u) => u.home);
  return [...new Set([resolve(folder), ...made])];
}

/**
 * Remove what every home in `folder` (or that home) left on the machine: tenant and proxy
 * users, socket folders, control groups (a team folder or a compose rehearsal holds its
 * home deeper down).
 */
export function forgetHome(folder: string): void {
  const homes = homesIn(folder); // read before the users (which name the homes) go
  for (const user of tenantUsersOf(folder)) {
    try {
      removeSystemUser(user);
    } catch {
      // a process of it still runs (userdel refuses): its home is gone anyway
    }
  }
  removeProxyUsers(folder);
  forgetRunDirs(folder);
  for (const home of homes) removeHomeCgroups(home);
}
