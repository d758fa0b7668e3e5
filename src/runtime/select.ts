/** The runtime a stack's tenants' workers run on: SILO_RUNTIME, recorded with the stack's settings. */
import type { SiloConfig } from '../common/config.js';
import { SiloError } from '../common/errors.js';
import { pm2Runtime } from './pm2-runtime.js';
import type { TenantRuntime } from './runtime.js';

export function runtimeFor(cfg: Pick<SiloConfig, 'runtime'>): TenantRuntime {
  if ((cfg.runtime ?? 'pm2') === 'pm2') return pm2Runtime;
  throw new SiloError(`SILO_RUNTIME=${cfg.runtime}: this silo runs tenants' workers on pm2 only`);
}
