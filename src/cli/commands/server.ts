/** `silo server add | list`. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { addServer, ensureDefaultServer } from '../../servers/servers.js';
import { printJson, printLine, printTable } from '../output.js';
import { group } from './group.js';

export function register(program: Command, config: () => SiloConfig): void {
  const server = group(program, 'server', 'PostgreSQL servers tenants are placed on');

  server
    .command('add <name> <admin-url>')
    .description('register an external PostgreSQL server by its admin URL')
    .action(async (name: string, url: string) => {
      const cfg = config();
      await ensureDefaultServer(cfg);
      const s = await addServer(cfg, name, url);
      printLine(`added server ${s.name} (${s.host}:${s.port}, PostgreSQL ${s.version})`);
    });

  server
    .command('list')
    .description('list database servers')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const cfg = config();
      const reg = await ensureDefaultServer(cfg);
      const rows = Object.entries(reg.servers).map(([name, s]) => ({
        name,
        kind: s.kind,
        host: s.host,
        port: s.port,
        tenants: Object.values(reg.tenants).filter((t) => t.server === name).length,
      }));
      if (opts.json) return printJson(rows);
      printTable(rows, ['name', 'kind', 'host', 'port', 'tenants']);
    });
}
