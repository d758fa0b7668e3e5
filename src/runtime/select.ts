/** The runtime a stack's tenants' workers run on: SILO_RUNTIME, recorded with the stack's settings. */
import type { SiloConfig } from '../common/config.js';
import { SiloError } from '../common/errors.js';
import { swarmRuntime } from './swarm/swarm-runtime.js';
import { pm2Runtime } from './pm2-runtime.js';
import type { TenantRuntime } from './runtime.js';

const swarms = new Map<string, TenantRuntime>();

export function runtimeFor(cfg: Pick<SiloConfig, 'runtime' | 'swarmEngines' | 'swarmBaseImage' | 'proxy'>): TenantRuntime {
  if ((cfg.runtime ?? 'pm2') === 'pm2') return pm2Runtime;
  // Workers on other hosts are routed by address with other nodes as backups (nginx's pool.ts).
  if (cfg.proxy === 'caddy') throw new SiloError('SILO_RUNTIME=swarm routes with nginx only: unset SILO_PROXY=caddy');
  // One kept client per swarm for the life of the process.
  const key = `${cfg.swarmEngines.join(',')}|${cfg.swarmBaseImage}`;
  let runtime = swarms.get(key);
  if (!runtime) swarms.set(key, (runtime = swarmRuntime({ engines: cfg.swarmEngines, base: cfg.swarmBaseImage })));
  return runtime;
}
