/**
 * Under root: its own Unix user, which its worker runs as, owning its password file (0400)
 * and its log files. Elsewhere there is nothing to make (workers run as the caller).
 */
import { ensureTenantUser, handOverFiles, passwordFileProblem, perTenantUsers, removeTenantUser, tenantUser } from '../../isolation/tenant-user.js';
import type { TenantPart } from './part.js';

export const osUser: TenantPart = {
  name: 'os-user',
  where: 'host',
  check(t) {
    if (!perTenantUsers()) return undefined;
    if (!tenantUser(t.cfg, t.name)) return 'its Unix user was missing';
    return passwordFileProblem(t.cfg, t.name);
  },
  ensure(t) {
    if (!perTenantUsers()) return;
    ensureTenantUser(t.cfg, t.name);
    handOverFiles(t.cfg, t.name);
    return 'fixed';
  },
  // Only a user silo made for this home and tenant (tenant-user.ts).
  remove(t) {
    removeTenantUser(t.cfg, t.name);
  },
};
