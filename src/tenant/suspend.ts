/**
 * `silo tenant suspend <name> [--message]` and `silo tenant resume <name>`: the registry
 * records the suspension, and the proxy, rendered from it under the same lock, answers
 * the tenant's hosts 503 with Retry-After (HTML for browsers, the JSON error shape for
 * the API) without reaching its worker. Every other tenant's route is untouched.
 * restore and move suspend with `by: 'restore' | 'move'`; a suspension an operator made
 * outlives them (they never resume what they did not suspend).
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { validateTenantName } from '../common/names.js';
import { readRegistry, tenantEntry, writeRegistry, type Suspension } from '../registry/registry.js';
import { probeProxy, stackIsUp, syncProxy } from '../stack/live.js';
import { tenantHosts } from './create.js';
import { waitFor } from '../common/http-probe.js';
import { runSteps, type Step } from '../common/steps.js';
import { SiloError } from '../common/errors.js';
import { onTenant } from './operation.js';
import { emit } from '../events/emit.js';

const MESSAGE = /^[^\x00-\x1f\x7f]{1,300}$/;

interface Ctx {
  cfg: SiloConfig;
  name: string;
  want: Suspension | undefined;
  /** on resume: whose suspension to lift (an operator lifts any) */
  resumeBy: Suspension['by'];
  /** what the registry said before */
  before?: Suspension;
  changed: boolean;
  live: boolean;
}

/** Is the proxy answering this host with silo's suspended page? */
async function answersSuspended(cfg: SiloConfig, host: string): Promise<boolean> {
  const r = await probeProxy(cfg, '/healthz', host);
  return r.status === 503 && r.body.includes('"suspended":true');
}

const steps: Step<Ctx>[] = [
  {
    name: 'record',
    async run(c) {
      const paths = homePaths(c.cfg.home);
      const reg = readRegistry(paths.registry);
      const t = tenantEntry(reg, c.name);
      c.before = t.suspended;
      if (c.want) {
        // An operator's suspension stays until an operator resumes it.
        if (c.before?.by === 'operator' && c.want.by !== 'operator') return;
        if (c.before?.by === c.want.by && c.before.message === c.want.message) return;
      } else {
        if (!c.before) return;
        if (c.resumeBy !== 'operator' && c.before.by !== c.resumeBy) return;
      }
      if (c.want) t.suspended = c.want;
      else delete t.suspended;
      writeRegistry(paths.registry, reg);
      c.changed = true;
    },
  },
  {
    name: 'render-proxy',
    async run(c) {
      // nginx answers from the page files at once; Caddy's config is re-rendered and reloaded.
      c.live = await stackIsUp();
      await syncProxy(c.cfg, readRegistry(homePaths(c.cfg.home).registry), c.live);
    },
  },
  {
    name: 'wait-for-proxy',
    async run(c) {
      if (!c.live) return;
      const t = readRegistry(homePaths(c.cfg.home).registry).tenants[c.name]!;
      const host = tenantHosts(c.cfg, c.name, t)[0]!;
      const wanted = Boolean(t.suspended);
      await waitFor(`${host} to be ${wanted ? 'suspended' : 'resumed'} at the proxy`, 10_000, async () => (await answersSuspended(c.cfg, host)) === wanted);
    },
  },
];

export interface SuspendResult {
  name: string;
  changed: boolean;
  /** the stack was up and the proxy now answers as recorded */
  live: boolean;
  suspension?: Suspension;
}

async function apply(cfg: SiloConfig, name: string, want: Suspension | undefined, resumeBy: Suspension['by'] = 'operator'): Promise<SuspendResult> {
  validateTenantName(name);
  const paths = homePaths(cfg.home);
  const ctx: Ctx = { cfg, name, want, resumeBy, changed: false, live: false };
  await onTenant(cfg, name, { what: want ? 'tenant.suspend' : 'tenant.resume', registryLock: true }, () => runSteps(want ? 'suspend' : 'resume', steps, ctx));
  // A move's or a restore's own window is part of that operation, not news.
  const by = want ? want.by : resumeBy;
  if (ctx.changed && (by === 'operator' || by === 'ceiling')) emit(cfg, want ? 'tenant.suspended' : 'tenant.resumed', { tenant: name, by, message: want?.message });
  return { name, changed: ctx.changed, live: ctx.live, suspension: readRegistry(paths.registry).tenants[name]?.suspended };
}

export function suspendTenant(cfg: SiloConfig, name: string, opts: { message?: string; by?: Suspension['by'] } = {}): Promise<SuspendResult> {
  if (opts.message !== undefined && !MESSAGE.test(opts.message)) throw new SiloError('the message must be 1 to 300 characters on one line');
  return apply(cfg, name, { by: opts.by ?? 'operator', ...(opts.message ? { message: opts.message } : {}), since: new Date().toISOString() });
}

/** Lift a suspension: an operator's (by default), or only the one `by` made. */
export function resumeTenant(cfg: SiloConfig, name: string, by: Suspension['by'] = 'operator'): Promise<SuspendResult> {
  return apply(cfg, name, undefined, by);
}
