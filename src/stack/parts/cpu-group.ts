/**
 * Where cgroups exist (root): its worker's groups, with an equal CPU weight, its CPU quota,
 * processes and memory ceilings; and its own temporary folder (isolation/ceilings.ts).
 * Removing it first kills whatever its worker left running in the groups.
 */
import { ceilingsNeedWork, ensureTenantCeilings, removeTenantTmp } from '../../isolation/ceilings.js';
import { removeTenantCgroup } from '../../isolation/cgroups.js';
import { entryOf, type TenantPart } from './part.js';

export const cpuGroup: TenantPart = {
  name: 'cpu-group',
  where: 'host',
  check: (t) => (ceilingsNeedWork(t.cfg, t.name, entryOf(t)) ? 'its groups or temporary folder did not match its limits' : undefined),
  ensure(t) {
    ensureTenantCeilings(t.cfg, t.name, entryOf(t));
    return 'made again';
  },
  remove(t) {
    removeTenantCgroup(t.cfg.home, t.name);
    removeTenantTmp(t.cfg, t.name);
  },
};
