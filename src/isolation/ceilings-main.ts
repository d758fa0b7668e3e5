/**
 * The ceilings watcher, as PM2 runs it (`node dist/isolation/ceilings-main.js`,
 * app `ceilings`, started by `silo up`): four times a second it caps each tenant's logs on disk
 * (src/isolation/ceilings.ts) and rotates every other log of the stack and PM2's own
 * pm2.log (SILO_LOG_MAX, SILO_LOG_FILES: src/common/log-rotation.ts), and every SILO_DB_SIZE_CHECK (30 s) it measures each tenant
 * database against its size ceiling, refusing the ones over it (tenant/db-ceiling.ts). One line
 * per action on stdout. Its settings come from the registry, the admin URLs from
 * $SILO_HOME/secrets, like any silo command.
 */
import { loadStackConfig } from '../registry/settings.js';
import { homePaths } from '../common/paths.js';
import { statSync } from 'node:fs';
import { readRegistry, type Registry } from '../registry/registry.js';
import { parseDuration } from '../common/duration.js';
import { tenantCeilings } from './limits.js';
import { capTenantLogs } from './ceilings.js';
import { rotateIfOver, rotateLogsIn, type LogRotation } from '../common/log-rotation.js';
import { bytesOf } from './limits.js';
import { pm2Home } from '../pm2/pm2.js';
import { join } from 'node:path';
import { enforceDatabaseCeilings } from '../tenant/db-ceiling.js';

// As a silo command would (PM2's daemon under root gives its apps 077): the suspended
// pages it writes must be readable by the proxy's workers. Secrets and the registry set
// their own modes.
process.umask(0o022);
const cfg = loadStackConfig();
// A flood through PM2 measured ~50 MB/s: a check every 250 ms keeps a tenant's logs within
// ~12 MB of its ceiling (stat() of two files per tenant; the registry re-read when it changed).
const LOG_EVERY_MS = 250;
const dbEvery = Math.max(1000, parseDuration(cfg.dbSizeCheck) || 30_000);

const line = (fields: Record<string, unknown>) => process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...fields }) + '\n');

let known: { mtimeMs: number; reg: Registry } | undefined;
function registry(): Registry {
  const file = homePaths(cfg.home).registry;
  const mtimeMs = statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (known?.mtimeMs !== mtimeMs) known = { mtimeMs, reg: readRegistry(file) };
  return known.reg;
}

const rotation: LogRotation = { maxBytes: bytesOf(cfg.logMax), files: cfg.logFiles };

function capLogs(): void {
  const reg = registry();
  for (const [name, t] of Object.entries(reg.tenants)) {
    try {
      const rotated = capTenantLogs(cfg.home, name, tenantCeilings(cfg, t).logs, rotation);
      if (rotated.length) line({ msg: 'logs capped', tenant: name, files: rotated.length });
    } catch (err) {
      line({ msg: 'log cap failed', tenant: name, err: (err as Error).message });
    }
  }
  // Everything else: the proxy, PostgreSQL, the waker, backups, this watcher; PM2's own log.
  try {
    const rotated = rotateLogsIn(homePaths(cfg.home).logs, rotation, (n) => !n.startsWith('tenant-'));
    if (rotateIfOver(join(pm2Home(), 'pm2.log'), rotation)) rotated.push('pm2.log');
    if (rotated.length) line({ msg: 'logs rotated', files: rotated.map((f) => f.split('/').pop()) });
  } catch (err) {
    line({ msg: 'log rotation failed', err: (err as Error).message });
  }
}

async function checkDatabases(): Promise<void> {
  try {
    for (const ch of await enforceDatabaseCeilings({ ...cfg, actor: 'silo:ceilings' })) line({ msg: `database ${ch.action}`, ...ch });
  } catch (err) {
    line({ msg: 'database check failed', err: (err as Error).message });
  }
}

const logTimer = setInterval(capLogs, LOG_EVERY_MS);
let dbTimer: NodeJS.Timeout;
const dbLoop = () => {
  dbTimer = setTimeout(() => void checkDatabases().finally(dbLoop), dbEvery);
};
void checkDatabases().finally(dbLoop);

const stop = () => {
  clearInterval(logTimer);
  clearTimeout(dbTimer);
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
line({ msg: 'ceilings watcher', logsEveryMs: LOG_EVERY_MS, databasesEveryMs: dbEvery, logMax: cfg.logMax, logFiles: cfg.logFiles });
