/**
 * `silo tenant sleep | wake` and their API endpoints: hibernate a tenant's worker, or
 * start it, by hand (the waker does it, asked while this holds the tenant's lock like
 * any operation on it).
 */
import type { SiloConfig } from '../common/config.js';
import { validateTenantName } from '../common/names.js';
import { askWaker } from '../hibernate/client.js';
import { onTenant } from './operation.js';

export async function sleepTenant(cfg: SiloConfig, name: string) {
  validateTenantName(name);
  return onTenant(cfg, name, { what: 'tenant.sleep' }, () => askWaker(cfg, 'sleep', name));
}

export async function wakeTenant(cfg: SiloConfig, name: string) {
  validateTenantName(name);
  return onTenant(cfg, name, { what: 'tenant.wake' }, () => askWaker(cfg, 'wake', name));
}
