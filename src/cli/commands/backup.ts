/** `silo tenant backup <name>`, `silo backup --all [--keep <n>]`, `silo backup list`. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { backupAll, backupTenant } from '../../backup/backup.js';
import { listBackups, type BackupEntry } from '../../backup/manifest.js';
import { validateTenantName } from '../../common/names.js';
import { SiloError } from '../../common/errors.js';
import { printJson, printLine, printSummary, printTable, tenantProgress } from '../output.js';
import { group } from './group.js';

export function positiveInt(flag: string) {
  return (v: string): number => {
    if (!/^[0-9]{1,6}$/.test(v) || Number(v) < 1) throw new SiloError(`${flag} takes a whole number of at least 1, not "${v.slice(0, 20)}"`);
    return Number(v);
  };
}

const describe = (e: BackupEntry) => `${e.file} (${e.bytes} bytes, schema ${e.schemaVersion ?? 'unknown'}, sha256 ${e.sha256.slice(0, 12)}…)`;

export function register(program: Command, config: () => SiloConfig): void {
  group(program, 'tenant', 'create, list, remove and operate on tenants')
    .command('backup <name>')
    .description("dump a tenant's database to $SILO_HOME/backups/<name>/ and record it in the manifest")
    .option('--keep <n>', 'then keep only the newest n backups of this tenant', positiveInt('--keep'))
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { keep?: number; json?: boolean }) => {
      const cfg = config();
      validateTenantName(name);
      const e = await backupTenant(cfg, name, { keep: opts.keep });
      if (opts.json) return printJson(e);
      printLine(`backed up ${name}: ${describe(e)}`);
    });

  const backup = program
    .command('backup')
    // `backup list --json`: options after `list` are list's, not backup's.
    .enablePositionalOptions()
    .description('back up every tenant (--all), or list backups')
    .option('--all', 'back up every tenant, a few at a time, going on past a failure')
    .option('--keep <n>', 'keep only the newest n backups of each tenant (a removed tenant keeps its final dump)', positiveInt('--keep'))
    .option('--concurrency <n>', 'tenants backed up at once (default 2)', positiveInt('--concurrency'))
    .option('--json', 'machine-readable output')
    .action(async (opts: { all?: boolean; keep?: number; concurrency?: number; json?: boolean }) => {
      if (!opts.all) throw new SiloError('say what to back up: silo backup --all, or silo tenant backup <name> (silo backup list shows backups)');
      const cfg = config();
      const results = await backupAll(cfg, {
        keep: opts.keep,
        concurrency: opts.concurrency,
        kind: process.env.SILO_BACKUP_SCHEDULED === '1' ? 'scheduled' : 'manual',
        onResult: tenantProgress('backing up'),
      });
      const bytes = results.reduce((n, r) => n + (r.entry?.bytes ?? 0), 0);
      printSummary(results, {
        json: opts.json ? () => results : undefined,
        ok: (r) => `${r.tenant}: ${describe(r.entry!)}`,
        total: (ok, all, failed) => `${ok} of ${all} tenants backed up (${bytes} bytes), ${failed} failed`,
        failure: (names) => `backup failed for ${names}`,
      });
    });

  backup
    .command('list')
    .description('list recorded backups, newest first')
    .option('--tenant <name>', 'only this tenant')
    .option('--json', 'machine-readable output')
    .action((opts: { tenant?: string; json?: boolean }) => {
      const cfg = config();
      if (opts.tenant) validateTenantName(opts.tenant);
      const entries = listBackups(cfg.home, opts.tenant);
      if (opts.json) return printJson(entries);
      if (entries.length === 0) return printLine(opts.tenant ? `no backups of ${opts.tenant}` : 'no backups yet: silo tenant backup <name>');
      printTable(
        entries.map((e) => ({ ...e, time: e.startedAt, schema: e.schemaVersion, sha256: e.sha256.slice(0, 12) })),
        ['tenant', 'time', 'kind', 'bytes', 'schema', 'server', 'sha256', 'file'],
      );
    });
}
