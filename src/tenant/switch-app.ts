/**
 * Moving one tenant's running worker onto another app (a release, or the stack's app):
 * a reload of its whole definition with the new APP_MODULE on the stack's runtime (under
 * PM2 stop + start; the proxy holds its requests meanwhile, so none fails). Then the worker must answer /readyz (its schema is
 * what that app expects); if it does not, it is reloaded back onto the app it ran and
 * the switch fails. Shared by deploy and rollback.
 */
import type { SiloConfig } from '../common/config.js';
import type { Registry, TenantRelease } from '../registry/registry.js';
import { SiloError } from '../common/errors.js';
import { runtimeFor } from '../runtime/select.js';
import { syncProxy } from '../stack/live.js';
import { tenantAppEntry } from '../apps/app-migrations.js';

/** The registry with `name` on `release` (undefined: the stack's app), for rendering. */
function withRelease(reg: Registry, name: string, release: TenantRelease | undefined): Registry {
  const entry = { ...reg.tenants[name]! };
  if (release) entry.release = release;
  else delete entry.release;
  return { ...reg, tenants: { ...reg.tenants, [name]: entry } };
}

/** Does the tenant's worker run, and on which entry module ('' = the bundled sample)? */
export async function runningEntry(cfg: SiloConfig, name: string): Promise<string | undefined> {
  const w = (await runtimeFor(cfg).workers()).get(name);
  return w?.online ? (w.entry ?? '') : undefined;
}

export async function workerRunsRelease(cfg: SiloConfig, reg: Registry, name: string, release: TenantRelease | undefined): Promise<boolean> {
  const now = await runningEntry(cfg, name);
  return now !== undefined && now === (tenantAppEntry(cfg, release ? { release } : undefined) ?? '');
}

/**
 * Reload `name`'s worker onto `release`. Returns the milliseconds the switch took, or
 * undefined when its worker does not run (it starts on the recorded release at `up`).
 */
export async function switchWorker(cfg: SiloConfig, reg: Registry, name: string, release: TenantRelease | undefined, label: string): Promise<number | undefined> {
  if ((await runningEntry(cfg, name)) === undefined) return undefined;
  const runtime = runtimeFor(cfg);
  // On a swarm the switch is a service update: its image is built and loaded on every node
  // first, the new task becomes healthy, and Swarm watches it 5 s: the runtime's own limit.
  const readyMs = runtime.kind === 'pm2' ? 20_000 : undefined;
  const t0 = performance.now();
  await runtime.reload(cfg, withRelease(reg, name, release), name);
  try {
    await runtime.waitReady(cfg, name, readyMs);
  } catch (err) {
    await runtime.reload(cfg, reg, name).catch(() => undefined);
    await runtime.waitReady(cfg, name, readyMs).catch(() => undefined);
    throw new SiloError(`its worker did not become ready on ${label} (${(err as Error).message}); it runs its previous app again`);
  }
  // On a swarm the new task runs on another node (start-first): the proxy tries it first now.
  if (runtime.kind === 'swarm') await syncProxy(cfg, withRelease(reg, name, release), true);
  return performance.now() - t0;
}
