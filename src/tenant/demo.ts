/**
 * The demo tenants: `silo up` (and `silo run`) on an empty registry creates them, seeded
 * by the stack app, in the step `demo-tenants` of the stack's own list (stack/stack.ts),
 * which is handed this operation because the stack sits below the tenant layer.
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry } from '../registry/registry.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { connectAs } from '../postgres/tenant-session.js';
import { importStackApp } from '../apps/app-migrations.js';
import { up, type DemoTenants } from '../stack/stack.js';
import { createTenant } from './create.js';

export const DEMO_TENANTS = ['client1', 'client2'];

type Log = (line: string) => void;

export const createDemoTenants: DemoTenants = async (cfg, log, release) => {
  const app = await importStackApp(cfg);
  for (const name of DEMO_TENANTS) {
    await createTenant(cfg, name, { release });
    const sql = connectAs(tenantCredentials(cfg, readRegistry(homePaths(cfg.home).registry), name));
    try {
      await app.seed?.(sql, name);
    } finally {
      await sql.end({ timeout: 5 });
    }
    log(`created demo tenant ${name}`);
  }
};

/** `silo up`: the stack, with the demo tenants on an empty registry. */
export function upWithDemo(cfg: SiloConfig, log: Log, opts: { release?: string } = {}): ReturnType<typeof up> {
  return up(cfg, log, { ...opts, demoTenants: createDemoTenants });
}
