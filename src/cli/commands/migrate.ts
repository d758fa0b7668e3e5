/** `silo migrate`. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { migrateTenants } from '../../tenant/migrate.js';
import { SiloError } from '../../common/errors.js';
import { validateTenantName } from '../../common/names.js';
import { endProgress, printJson, printLine, progress } from '../output.js';

export function register(program: Command, config: () => SiloConfig): void {
  program
    .command('migrate')
    .description('apply pending migrations to every tenant database')
    .option('--tenant <name>', 'only this tenant')
    .option('--json', 'machine-readable output')
    .action(async (opts: { tenant?: string; json?: boolean }) => {
      const cfg = config();
      if (opts.tenant) validateTenantName(opts.tenant);
      const results = await migrateTenants(cfg, {
        tenant: opts.tenant,
        onResult: (r, done, total) => progress(`migrating [${done}/${total}] ${r.tenant} ${r.ok ? 'ok' : 'FAILED'}`),
      });
      endProgress();
      const failed = results.filter((r) => !r.ok);
      if (opts.json) printJson(results);
      else {
        for (const r of results) {
          if (r.ok) printLine(`${r.tenant}: ${r.from === r.to ? `up to date (version ${r.to})` : `migrated ${r.from} -> ${r.to}`}`);
          else printLine(`${r.tenant}: FAILED: ${r.error}`);
        }
        printLine(`${results.length - failed.length} of ${results.length} tenants up to date, ${failed.length} failed`);
      }
      if (failed.length) throw new SiloError(`migration failed for ${failed.map((f) => f.tenant).join(', ')}`);
    });
}
