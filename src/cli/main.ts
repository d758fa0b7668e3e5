/**
 * `silo`: parse the command line, call the control plane, print. Nothing else.
 */
import { Command, CommanderError } from 'commander';
import { loadConfig, type SiloConfig } from '../control/config.js';
import { createTenant, tenantHosts } from '../control/provision.js';
import { removeTenant } from '../control/remove.js';
import { migrateTenants } from '../control/migrate-tenants.js';
import { addServer, ensureDefaultServer } from '../control/servers.js';
import { readRegistry } from '../control/registry.js';
import { homePaths } from '../control/paths.js';
import { SiloError } from '../control/errors.js';
import { validateTenantName } from '../control/names.js';
import { endProgress, fail, printJson, printLine, printTable, progress } from './output.js';

function config(): SiloConfig {
  try {
    return loadConfig();
  } catch (err) {
    throw new SiloError((err as Error).message);
  }
}

function tenantUrl(cfg: SiloConfig, name: string, domains: string[] = []): string {
  const host = tenantHosts(cfg, name, { domains })[0];
  return `http://${host}${cfg.httpPort === 80 ? '' : `:${cfg.httpPort}`}/`;
}

const program = new Command('silo')
  .description('Run a SaaS app with one database, one role and one worker process per tenant.')
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(`silo: ${str.replace(/^error: /, '').trim()}\n`) });

const tenant = program.command('tenant').description('create, list and remove tenants');

tenant
  .command('create <name>')
  .description('provision a role and database, migrate it and register the tenant')
  .option('--domain <host>', 'an extra hostname for this tenant (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--server <name>', 'the database server to place it on (default: the one with the fewest tenants)')
  .action(async (name: string, opts: { domain: string[]; server?: string }) => {
    const cfg = config();
    const result = await createTenant(cfg, name, { domains: opts.domain.length ? opts.domain : undefined, server: opts.server });
    const url = tenantUrl(cfg, name, result.entry.domains);
    printLine(result.created ? `created tenant ${name} on server ${result.entry.server}: ${url}` : `tenant ${name} already exists: ${url}`);
  });

tenant
  .command('list')
  .description('list tenants')
  .option('--json', 'machine-readable output')
  .action((opts: { json?: boolean }) => {
    const cfg = config();
    const reg = readRegistry(homePaths(cfg.home).registry);
    const rows = Object.entries(reg.tenants)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, t]) => ({
        name,
        server: t.server,
        port: t.port,
        state: t.state,
        schemaVersion: t.schemaVersion,
        hosts: tenantHosts(cfg, name, t),
        url: tenantUrl(cfg, name, t.domains),
      }));
    if (opts.json) return printJson(rows);
    if (rows.length === 0) return printLine('no tenants yet: silo tenant create <name>');
    printTable(rows.map((r) => ({ ...r, schema: r.schemaVersion })), ['name', 'server', 'port', 'state', 'schema', 'url']);
  });

tenant
  .command('remove <name>')
  .description('back up, then drop a tenant database and role')
  .option('--yes', 'really remove it')
  .action(async (name: string, opts: { yes?: boolean }) => {
    const cfg = config();
    const reg = readRegistry(homePaths(cfg.home).registry);
    if (!reg.tenants[name]) throw new SiloError(`no tenant named "${name.slice(0, 40)}"`);
    if (!opts.yes) {
      throw new SiloError(`refusing to remove tenant "${name}" without --yes (its database is dumped to ${homePaths(cfg.home).backups}, then dropped)`);
    }
    const r = await removeTenant(cfg, name);
    printLine(r.backup ? `removed tenant ${name}; backup: ${r.backup} (${r.backupBytes} bytes)` : `removed tenant ${name} (it had no database)`);
  });

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

const server = program.command('server').description('PostgreSQL servers tenants are placed on');

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

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 1);
  }
  fail(err);
}
