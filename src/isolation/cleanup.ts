/**
 * What a silo home leaves on the machine outside its folder, under root: one Unix user
 * per tenant, the proxy's user, the run folder of its sockets and the CPU groups. `silo down` keeps them (the stack comes back with
 * `silo up`); a throwaway home (a test stack) removes them with its folder.
 */
import { removeSystemUser } from './os-users.js';
import { removeHomeCgroups } from './cgroups.js';
import { tenantUsersOf } from './tenant-user.js';
import { forgetRunDirs, removeProxyUsers } from './run-dirs.js';

/** Remove the tenant users of every home in `folder` (or of that home), and that home's CPU groups. */
export function forgetHome(folder: string): void {
  for (const user of tenantUsersOf(folder)) {
    try {
      removeSystemUser(user);
    } catch {
      // a process of it still runs (userdel refuses): its home is gone anyway
    }
  }
  removeProxyUsers(folder);
  forgetRunDirs(folder);
  removeHomeCgroups(folder);
}
