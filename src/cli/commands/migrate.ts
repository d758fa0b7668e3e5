/** `silo migrate`. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { migrateTenants } from '../../tenant/migrate.js';
import { validateTenantName } from '../../common/names.js';
import { printSummary, tenantProgress } from '../output.js';

export function register(program: Command, config: () => SiloConfig): void {
  program
    .command('migrate')
    .description('apply pending migrations to every tenant database')
    .option('--tenant <name>', 'only this tenant')
    .option('--json', 'machine-readable output')
    .action(async (opts: { tenant?: string; json?: boolean }) => {
      const cfg = config();
      if (opts.tenant) validateTenantName(opts.tenant);
      const results = await migrateTenants(cfg, { tenant: opts.tenant, onResult: tenantProgress('migrating') });
      printSummary(results, {
        json: opts.json ? () => results : undefined,
        ok: (r) => `${r.tenant}: ${r.from === r.to ? `up to date (version ${r.to})` : `migrated ${r.from} -> ${r.to}`}`,
        total: (ok, all, failed) => `${ok} of ${all} tenants up to date, ${failed} failed`,
        failure: (names) => `migration failed for ${names}`,
      });
    });
}
