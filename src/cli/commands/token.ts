/** `silo token create | list | revoke`: bearer tokens of the control API (control/tokens.ts). */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { createToken, listTokens, revokeToken } from '../../control/tokens.js';
import { audited } from '../../events/audit.js';
import { printJson, printLine, printTable } from '../output.js';

export function register(program: Command, config: () => SiloConfig): void {
  const token = program.command('token').description('bearer tokens for the control API (SILO_CONTROL=on)');

  token
    .command('create')
    .description('make a token; it is printed once, alone on the last line, and never again')
    .requiredOption('--scope <scope>', 'read (GET only) or write (every operation)')
    .option('--tenant <name>', 'limit the token to this one tenant')
    .option('--name <note>', 'a note saying whose token it is (shown by token list)')
    .action(async (opts: { scope: string; tenant?: string; name?: string }) => {
      const cfg = config();
      // The audit names the token by its scope and tenant (its id is made inside), never its secret.
      const r = await audited(cfg, 'token.create', opts.tenant ?? '(every tenant)', () => createToken(cfg.home, opts), { scope: String(opts.scope) });
      printLine(`created token ${r.info.id}: ${r.info.scope} scope, ${r.info.tenant ? `tenant ${r.info.tenant} only` : 'every tenant'}; keep it now, it is not shown again:`);
      printLine(r.token);
    });

  token
    .command('list')
    .description('the tokens: id, scope, tenant, created (never the secret)')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const rows = listTokens(config().home);
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return printLine('no tokens yet: silo token create --scope read|write [--tenant <name>]');
      printTable(rows.map((r) => ({ ...r, tenant: r.tenant ?? '(all)' })), ['id', 'scope', 'tenant', 'created', 'name']);
    });

  token
    .command('revoke <id>')
    .description('revoke a token at once (its next request gets 401)')
    .action(async (id: string) => {
      const cfg = config();
      const r = await audited(cfg, 'token.revoke', id, () => revokeToken(cfg.home, id));
      printLine(`revoked token ${r.id} (${r.scope}${r.tenant ? `, tenant ${r.tenant}` : ''})`);
    });
}
