/** `silo tenant domain add | remove | list`: customers' own domains (tenant/domain.ts). */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { addDomain, listDomains, removeDomain } from '../../tenant/domain.js';
import { printJson, printLine, printTable } from '../output.js';
import { group } from './group.js';

const day = (iso?: string) => (iso ? iso.slice(0, 10) : undefined);

export function register(program: Command, config: () => SiloConfig): void {
  const tenant = group(program, 'tenant', 'create, list, remove and operate on tenants');
  const domain = tenant.command('domain').description("a tenant's own domains: add, remove, list");

  domain
    .command('add <tenant> <host>')
    .description('serve <tenant> on <host> too (a domain belongs to one tenant at most)')
    .action(async (name: string, host: string) => {
      const r = await addDomain(config(), name, host);
      const cert = r.certificate ? ` (certificate: ${r.certificate.source}${r.certificate.expiresAt ? `, expires ${day(r.certificate.expiresAt)}` : ''}${r.certificate.lastError ? `; last error: ${r.certificate.lastError}` : ''})` : '';
      printLine(`${r.changed ? 'added' : 'already has'} ${r.host} to tenant ${name}${r.live ? '' : ' (the proxy picks it up at silo up)'}${cert}`);
    });

  domain
    .command('remove <tenant> <host>')
    .description('stop serving <tenant> on <host>')
    .action(async (name: string, host: string) => {
      const r = await removeDomain(config(), name, host);
      printLine(`removed ${r.host} from tenant ${name}`);
    });

  domain
    .command('list [tenant]')
    .description("every tenant's hosts (or one tenant's), with their certificates when SILO_TLS=on")
    .option('--json', 'machine-readable output')
    .action((name: string | undefined, opts: { json?: boolean }) => {
      const rows = listDomains(config(), name);
      if (opts.json) return printJson(rows);
      printTable(
        rows.map((r) => ({
          tenant: r.tenant,
          host: r.host,
          kind: r.kind,
          certificate: r.certificate?.source,
          expires: day(r.certificate?.expiresAt),
          error: r.certificate?.lastError,
        })),
        ['tenant', 'host', 'kind', 'certificate', 'expires', 'error'],
      );
    });
}
