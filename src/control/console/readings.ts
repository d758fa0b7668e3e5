/**
 * What the console's sampler reads for each registered tenant: its worker's memory from
 * one PM2 listing, and the responses it has answered so far from the counts file its
 * worker writes (src/metrics/request-counts.ts reads it as untrusted input, as /metrics
 * does). A tenant without a worker has no memory; without a counts file (SILO_METRICS=off,
 * never awake), no requests.
 */
import type { SiloConfig } from '../../common/config.js';
import { homePaths } from '../../common/paths.js';
import { runPaths } from '../../common/run-dir.js';
import { readRegistry } from '../../registry/registry.js';
import { workerApp } from '../../pm2/ecosystem.js';
import type { Running } from '../../pm2/workers.js';
import { readRequestCounts } from '../../metrics/request-counts.js';
import type { Reading } from './samples.js';

export function fleetReadings(cfg: SiloConfig, processes: () => Promise<Running>) {
  return async (): Promise<Map<string, Reading>> => {
    const names = Object.keys(readRegistry(homePaths(cfg.home).registry).tenants);
    const procs = await processes();
    const run = runPaths(cfg.home);
    const out = new Map<string, Reading>();
    for (const name of names) {
      const p = procs.get(workerApp(name));
      const counts = readRequestCounts(run.requestCounts(name));
      out.set(name, {
        ...(p?.pm2_env?.status === 'online' && p.monit ? { memoryMB: p.monit.memory / 1048576 } : {}),
        ...(counts ? { requests: Object.values(counts.classes).reduce((a, b) => a + b, 0) } : {}),
      });
    }
    return out;
  };
}
