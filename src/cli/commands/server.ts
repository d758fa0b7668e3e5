/** `silo server add | list`. */
import type { Command } from 'commander';
import type { SiloConfig } from '../../common/config.js';
import { addServer, ensureDefaultServer } from '../../servers/servers.js';
import { printJson, printLine, printTable } from '../output.js';
import { group } from './group.js';
import { SiloError } from '../../common/errors.js';

/** `-`: the first line of standard input; nothing: SILO_SERVER_URL; else the argument (visible in ps). */
async function adminUrlFrom(arg: string | undefined): Promise<string> {
  if (arg === undefined) {
    const url = process.env.SILO_SERVER_URL?.trim();
    if (!url) throw new SiloError("give the admin URL on standard input (silo server add <name> - < url-file) or in SILO_SERVER_URL");
    return url;
  }
  if (arg !== '-') return arg;
  if (process.stdin.isTTY) process.stderr.write('admin URL (postgres://user:password@host:port/postgres), then Enter: ');
  let text = '';
  for await (const chunk of process.stdin) {
    text += chunk;
    if (text.includes('\n')) break;
  }
  const url = text.split('\n')[0]!.trim();
  if (!url) throw new SiloError('no admin URL on standard input');
  return url;
}

export function register(program: Command, config: () => SiloConfig): void {
  const server = group(program, 'server', 'PostgreSQL servers tenants are placed on');

  server
    .command('add <name> [admin-url]')
    .description("register an external PostgreSQL server: its admin URL from standard input ('-') or SILO_SERVER_URL, so it never shows in ps")
    .action(async (name: string, arg: string | undefined) => {
      const cfg = config();
      const url = await adminUrlFrom(arg);
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
