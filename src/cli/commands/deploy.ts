/** `silo deploy <app> [--tenant <name>...|--all]`, `silo rollback <name>`. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { validateTenantName } from '../../common/names.js';
import { SiloError } from '../../common/errors.js';
import { deploy } from '../../tenant/deploy.js';
import { rollback } from '../../tenant/rollback.js';
import { printLine, printSummary, tenantProgress } from '../output.js';

const seconds = (ms?: number) => (ms === undefined ? 'worker not running: it starts on it at silo up' : `switched in ${(ms / 1000).toFixed(1)} s`);

export function register(program: Command, config: () => SiloConfig): void {
  program
    .command('deploy <app>')
    .description('register a release of the app (a folder or package) and move tenants onto it, one by one')
    .option('--tenant <name>', 'a tenant to deploy to (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--all', 'every tenant')
    .option('--json', 'machine-readable output')
    .action(async (app: string, opts: { tenant: string[]; all?: boolean; json?: boolean }) => {
      const cfg = config();
      if (opts.all && opts.tenant.length) throw new SiloError('give --tenant or --all, not both');
      opts.tenant.forEach((n) => validateTenantName(n));
      const r = await deploy(cfg, app, { tenants: opts.tenant, all: opts.all }, tenantProgress('deploying'));
      printSummary(r.tenants, {
        json: opts.json ? () => ({ release: r.release, tenants: r.tenants }) : undefined,
        header: `release ${r.label} from ${r.release.source}`,
        ok: (t) => (t.unchanged && t.switchMs === undefined ? `${t.tenant}: already on ${r.label}` : `${t.tenant}: ${t.from} -> ${r.label}, schema ${t.schemaFrom} -> ${t.schemaTo}, ${seconds(t.switchMs)}`),
        failed: (t) => `${t.tenant}: FAILED: ${t.error} (still on ${t.from}, serving)`,
        total: (ok, all, failed) => `${ok} of ${all} tenants on ${r.label}, ${failed} failed`,
        failure: (names) => `deploy failed for ${names}; they stay on their previous release`,
      });
    });

  program
    .command('rollback <name>')
    .description('return a tenant to the release it ran before its last deploy, if its schema allows')
    .action(async (name: string) => {
      const cfg = config();
      validateTenantName(name);
      const r = await rollback(cfg, name);
      printLine(`${r.tenant}: ${r.from} -> ${r.to}, ${seconds(r.switchMs)}`);
    });
}
