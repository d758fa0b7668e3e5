/**
 * Its route through the proxy (only while the stack is up): the proxy config rendered from
 * the registry and the proxy reloaded if it changed; its host answers through the proxy
 * (or shows the suspended page, if it is suspended). Removed by rendering the config from
 * a registry that holds it as `removing` (nothing routes it then) and waiting for a 404.
 */
import { sleepsOnPurpose } from '../../hibernate/state.js';
import { primaryHost, probeProxy, syncProxy, waitThroughProxy, waitUnrouted } from '../live.js';
import { entryOf, type TenantPart } from './part.js';

export const route: TenantPart = {
  name: 'route',
  where: 'stack',
  async check(t) {
    // A probe through the proxy would wake a hibernated tenant (repair --all: every one).
    if (!t.live || sleepsOnPurpose(t.cfg.home, t.name)) return undefined;
    const r = await probeProxy(t.cfg, '/healthz', primaryHost(t.cfg, t.reg, t.name)).catch(() => undefined);
    const suspended = r?.status === 503 && r.body.includes('"suspended":true');
    return (entryOf(t).suspended ? suspended : r?.status === 200) ? undefined : 'its host did not answer through the proxy';
  },
  async ensure(t) {
    if (!t.live) return;
    await syncProxy(t.cfg, t.reg, true);
    await waitThroughProxy(t.cfg, t.name, primaryHost(t.cfg, t.reg, t.name));
    return 're-rendered and reloaded';
  },
  async remove(t) {
    if (t.live && (await syncProxy(t.cfg, t.reg, true))) await waitUnrouted(t.cfg, primaryHost(t.cfg, t.reg, t.name));
  },
};
