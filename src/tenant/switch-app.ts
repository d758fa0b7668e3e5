/**
 * Moving one tenant's running worker onto another app (a release, or the stack's app):
 * a PM2 restart of its whole definition with the new APP_MODULE (stop + start; the proxy
 * holds its requests meanwhile, so none fails). Then the worker must answer /readyz (its schema is
 * what that app expects); if it does not, it is reloaded back onto the app it ran and
 * the switch fails. Shared by deploy and rollback.
 */
import type { SiloConfig } from '../common/config.js';
import type { Registry, TenantRelease } from '../registry/registry.js';
import { SiloError } from '../common/errors.js';
import { workerApp, workerApps } from '../pm2/ecosystem.js';
import { isOnline, running, waitWorker } from '../pm2/workers.js';
import * as pm2 from '../pm2/pm2.js';
import { tenantAppEntry } from '../apps/app-migrations.js';

/** The registry with `name` on `release` (undefined: the stack's app), for rendering. */
function withRelease(reg: Registry, name: string, release: TenantRelease | undefined): Registry {
  const entry = { ...reg.tenants[name]! };
  if (release) entry.release = release;
  else delete entry.release;
  return { ...reg, tenants: { ...reg.tenants, [name]: entry } };
}

/** Does the tenant's worker run, and on which entry module ('' = the bundled sample)? */
export async function runningEntry(name: string): Promise<string | undefined> {
  const proc = (await running()).get(workerApp(name));
  return isOnline(proc) ? (proc!.pm2_env?.env?.APP_MODULE ?? '') : undefined;
}

export async function workerRunsRelease(cfg: SiloConfig, reg: Registry, name: string, release: TenantRelease | undefined): Promise<boolean> {
  const now = await runningEntry(name);
  return now !== undefined && now === (tenantAppEntry(cfg, release ? { release } : undefined) ?? '');
}

/**
 * Reload `name`'s worker onto `release`. Returns the milliseconds the switch took, or
 * undefined when its worker does not run (it starts on the recorded release at `up`).
 */
export async function switchWorker(cfg: SiloConfig, reg: Registry, name: string, release: TenantRelease | undefined, label: string): Promise<number | undefined> {
  if ((await runningEntry(name)) === undefined) return undefined;
  const next = workerApps(cfg, withRelease(reg, name, release), name)[0]!;
  const back = workerApps(cfg, reg, name)[0]!;
  const t0 = performance.now();
  await pm2.reloadApp(next);
  try {
    await waitWorker(cfg, name, 20_000);
  } catch (err) {
    await pm2.reloadApp(back).catch(() => undefined);
    await waitWorker(cfg, name, 20_000).catch(() => undefined);
    throw new SiloError(`its worker did not become ready on ${label} (${(err as Error).message}); it runs its previous app again`);
  }
  return performance.now() - t0;
}
