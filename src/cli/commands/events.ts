/** `silo audit`: who did what to which tenant, server or webhook, and how it ended. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { readAudit } from '../../events/audit.js';
import { validateTenantName } from '../../common/names.js';
import { printJson, printLine, printTable } from '../output.js';

export function register(program: Command, config: () => SiloConfig): void {
  program
    .command('audit')
    .description('the audit log: every state-changing operation, who ran it, on what, when, and how it ended')
    .option('--tenant <name>', "only the operations on this tenant")
    .option('--json', 'machine-readable output')
    .action((opts: { tenant?: string; json?: boolean }) => {
      if (opts.tenant !== undefined) validateTenantName(opts.tenant);
      const entries = readAudit(config().home, { tenant: opts.tenant });
      if (opts.json) return printJson(entries);
      if (entries.length === 0) return printLine(opts.tenant ? `nothing recorded about tenant ${opts.tenant}` : 'nothing recorded yet');
      printTable(
        entries.map((e) => ({ ...e, at: e.at.slice(0, 19).replace('T', ' '), result: e.result === 'ok' ? 'ok' : `error: ${e.error ?? ''}` })),
        ['at', 'who', 'what', 'target', 'result'],
      );
    });
}
