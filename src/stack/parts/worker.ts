/**
 * Its worker on the stack's runtime (only while the stack is up): online, started as this
 * silo defines it. A hibernated tenant has no worker on purpose (its next request starts
 * it); one whose wake failed is started here, once the parts before it fixed what made it fail.
 */
import { runtimeFor } from '../../runtime/select.js';
import { sleepsOnPurpose } from '../../hibernate/state.js';
import type { TenantPart } from './part.js';

export const worker: TenantPart = {
  name: 'worker',
  where: 'stack',
  async check(t) {
    if (!t.live || sleepsOnPurpose(t.cfg.home, t.name)) return undefined;
    const w = (t.workers ?? (await runtimeFor(t.cfg).workers())).get(t.name);
    if (!w?.online) return 'it was not running';
    if (t.restart) return 'its settings changed';
    return w.stale;
  },
  async ensure(t) {
    if (!t.live) return;
    const runtime = runtimeFor(t.cfg);
    const now = await runtime.workers();
    const w = now.get(t.name);
    // New settings reach a running worker through a reload with its new definition; a
    // stale one (an older silo's) is started again as it is defined now.
    if (w?.online && t.restart) {
      if (!t.reg.tenants[t.name]) return;
      await runtime.reload(t.cfg, t.reg, t.name);
      await runtime.waitReady(t.cfg, t.name);
      return 'restarted';
    }
    const started = await runtime.start(t.cfg, t.reg, t.name, now);
    return started ? (w?.online ? 'started again' : 'started') : undefined;
  },
  remove: async (t) => void (await runtimeFor(t.cfg).stop(t.name)),
};
