/** `silo tenant suspend | resume | restore | move | repair`: the day-2 operations on one tenant. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { resumeTenant, suspendTenant } from '../../tenant/suspend.js';
import { discardPrevious, restoreChoice, restoreTenant } from '../../tenant/restore.js';
import { SiloError } from '../../common/errors.js';
import { moveTenant } from '../../tenant/move.js';
import { moveTenantToNode } from '../../tenant/move-node.js';
import { repairAll, repairTenant, type RepairResult } from '../../tenant/repair.js';
import { printJson, printLine, printSummary } from '../output.js';
import { group } from './group.js';

/** "(after 3 checks: registry, password-file, os-user)": what ran before a repair failed. */
function ranBefore(r: RepairResult): string {
  if (!r.findings.length) return r.failedCheck ? ' (the first check)' : '';
  return ` (after ${r.findings.length} check${r.findings.length === 1 ? '' : 's'}: ${r.findings.map((f) => f.check).join(', ')})`;
}

export function register(program: Command, config: () => SiloConfig): void {
  const tenant = group(program, 'tenant', 'create, list, remove and operate on tenants');

  tenant
    .command('suspend <name>')
    .description("the proxy answers the tenant's hosts 503 with Retry-After (a maintenance window); nobody else notices")
    .option('--message <text>', 'what visitors are told (one line, up to 300 characters)')
    .action(async (name: string, opts: { message?: string }) => {
      const r = await suspendTenant(config(), name, { message: opts.message });
      const where = r.live ? 'the proxy answers its hosts 503' : 'the proxy will answer its hosts 503 once the stack is up';
      printLine(r.changed ? `suspended ${name}: ${where}` : `${name} was already suspended${r.suspension?.by !== 'operator' ? ` (by a ${r.suspension?.by})` : ''}`);
    });

  tenant
    .command('resume <name>')
    .description('serve a suspended tenant again')
    .action(async (name: string) => {
      const r = await resumeTenant(config(), name);
      printLine(r.changed ? `resumed ${name}` : `${name} was not suspended`);
    });

  tenant
    .command('restore <name>')
    .description('restore a backup beside the live database, then swap (the tenant is unavailable only for the swap)')
    .option('--latest', "the tenant's newest backup")
    .option('--from <file>', 'a backup file recorded in the manifest')
    .option('--yes', 'really replace the live data (it is kept as <name>_previous)')
    .option('--discard-previous', 'drop the database the last restore replaced (alone, or after this restore)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { latest?: boolean; from?: string; yes?: boolean; discardPrevious?: boolean; json?: boolean }) => {
      const cfg = config();
      if (restoreChoice(opts) === 'discard-previous') {
        const dropped = await discardPrevious(cfg, name);
        return printLine(dropped ? `dropped ${name}_previous` : `${name} has no previous database`);
      }
      if (!opts.yes) throw new SiloError(`refusing to restore over tenant "${name}" without --yes (its current data is kept as ${name}_previous)`);
      const r = await restoreTenant(cfg, name, { latest: opts.latest, from: opts.from, discardPrevious: opts.discardPrevious, log: opts.json ? undefined : printLine });
      if (opts.json) return printJson(r);
      printLine(
        `restored ${name} from ${r.backup!.file} (taken ${r.backup!.startedAt}, schema ${r.schemaVersion})` +
          (r.broughtBack ? '; the tenant is back' : `; unavailable for ${Math.round(r.suspendedMs ?? 0)} ms`) +
          (r.previousKept ? `; the replaced data is kept as ${name}_previous until --discard-previous or the next restore` : ''),
      );
    });

  tenant
    .command('repair [name]')
    .description("re-check every part of a tenant (role, database, grants, password file, registry, worker, route) and redo what is missing")
    .option('--all', 'every tenant')
    .option('--json', 'machine-readable output')
    .action(async (name: string | undefined, opts: { all?: boolean; json?: boolean }) => {
      const cfg = config();
      if (!name === !opts.all) throw new SiloError('say which tenant: silo tenant repair <name>, or --all');
      const results: RepairResult[] = name ? [await repairTenant(cfg, name)] : await repairAll(cfg);
      const fixes = (r: RepairResult) => r.findings.filter((f) => f.fixed).map((f) => `  fixed ${f.check}${f.detail ? `: ${f.detail}` : ''}`);
      printSummary(results, {
        json: opts.json ? () => results : undefined,
        ok: (r) => [fixes(r).length ? `${r.tenant}: ${r.findings.length} checks, ${fixes(r).length} fixed` : `${r.tenant}: all ${r.findings.length} checks passed, nothing to fix`, ...fixes(r)],
        failed: (r) => [`${r.tenant}: FAILED${r.failedCheck ? ` at check ${r.failedCheck}` : ''}${ranBefore(r)}: ${r.error}`, ...fixes(r)],
        total: opts.all ? (ok, all, failed) => `${ok} of ${all} tenants checked, ${failed} failed` : undefined,
        failure: (names) => `repair failed for ${names}`,
      });
    });

  tenant
    .command('move <name>')
    .description('move a tenant to another database server (suspended only during the final copy), or its worker to another node (SILO_RUNTIME=swarm)')
    .option('--to <server>', 'the server to move it to (silo server list)')
    .option('--node <node>', "the swarm node to pin its worker to ('any': unpinned)")
    .option('--keep-source', 'keep its database on the old server (closed to its role)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { to?: string; node?: string; keepSource?: boolean; json?: boolean }) => {
      if (opts.node !== undefined) {
        if (opts.to !== undefined) throw new SiloError('move takes --to <server> or --node <node>, not both');
        const r = await moveTenantToNode(config(), name, opts.node);
        if (opts.json) return printJson(r);
        return printLine(r.node ? `${name} runs on node ${r.node}${r.from && r.from !== r.node ? ` (was ${r.from})` : ''}` : `${name} may run on any node`);
      }
      if (opts.to === undefined) throw new SiloError('move needs --to <server> (or --node <node> on a swarm)');
      const r = await moveTenant(config(), name, { to: opts.to, keepSource: opts.keepSource, log: opts.json ? undefined : printLine });
      if (opts.json) return printJson(r);
      if (!r.moved) return printLine(`${name} already lives on ${r.to}`);
      printLine(
        `moved ${name} from ${r.from} to ${r.to} in ${Math.round(r.totalMs)} ms` +
          (r.suspendedMs !== undefined ? `, unavailable for ${Math.round(r.suspendedMs)} ms` : '') +
          (r.sourceKept ? `; its database on ${r.from} is kept` : ''),
      );
    });
}
