/** `silo tenant create | list | remove`. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { createFromInput } from '../../tenant/create-input.js';
import { listTenants } from '../../tenant/list.js';
import { tenantUrl } from '../../stack/stack.js';
import { removeTenant } from '../../tenant/remove.js';
import { knownTenant } from '../../tenant/operation.js';
import { homePaths } from '../../common/paths.js';
import { SiloError } from '../../common/errors.js';
import { printJson, printLine, printTable } from '../output.js';
import { releaseShort } from '../../apps/releases.js';
import { group } from './group.js';

export function register(program: Command, config: () => SiloConfig): void {
  const tenant = group(program, 'tenant', 'create, list, remove and operate on tenants');

  tenant
    .command('create <name>')
    .description('provision a role and database, migrate it and register the tenant')
    .option('--domain <host>', 'an extra hostname for this tenant (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--server <name>', 'the database server to place it on (default: the one with the fewest tenants)')
    .option('--max-memory <size>', "restart this tenant's worker above this memory, e.g. 300M (default SILO_WORKER_MAX_MEMORY)")
    .option('--rate <per-second>', 'requests per second its hosts get through the proxy; 0 no limit (default SILO_TENANT_RATE, 20000)')
    .option('--cpu <percent>', "a CPU quota for its worker in percent of one core; 0 none (default SILO_TENANT_CPU, 0)")
    .option('--pids <n>', 'processes and threads its worker may have; 0 no limit (default SILO_TENANT_PIDS, 128)')
    .option('--db-size <size>', 'its database may grow to this, e.g. 500M; above it the tenant is suspended (default SILO_TENANT_DB_SIZE, 1G)')
    .option('--hibernate-after <duration>', 'stop its worker after this long without a request, e.g. 30m; 0 never (default SILO_HIBERNATE_AFTER)')
    .action(async (name: string, opts: { domain: string[]; server?: string; maxMemory?: string; rate?: string; cpu?: string; pids?: string; dbSize?: string; hibernateAfter?: string }) => {
      const cfg = config();
      const { domain, ...rest } = opts;
      const result = await createFromInput(cfg, name, { domains: domain, ...rest });
      const url = tenantUrl(cfg, name, result.entry.domains);
      const where = result.live ? `live at ${url}` : `${url} (start the stack with silo up)`;
      printLine(result.created ? `created tenant ${name} on server ${result.entry.server}: ${where}` : `tenant ${name} already exists: ${where}`);
    });

  tenant
    .command('list')
    .description('list tenants')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const cfg = config();
      const rows = listTenants(cfg);
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return printLine('no tenants yet: silo tenant create <name>');
      printTable(rows.map((r) => ({ ...r, schema: r.schemaVersion, release: releaseShort(r.release) })), ['name', 'server', 'port', 'state', 'schema', 'release', 'url']);
    });

  tenant
    .command('remove <name>')
    .description('back up, then drop a tenant database and role')
    .option('--yes', 'really remove it')
    .action(async (name: string, opts: { yes?: boolean }) => {
      const cfg = config();
      knownTenant(cfg, name);
      if (!opts.yes) {
        throw new SiloError(`refusing to remove tenant "${name}" without --yes (its database is dumped to ${homePaths(cfg.home).backups}, then dropped)`);
      }
      const r = await removeTenant(cfg, name);
      printLine(r.backup ? `removed tenant ${name}; backup: ${r.backup} (${r.backupBytes} bytes)` : `removed tenant ${name} (it had no database)`);
    });
}
