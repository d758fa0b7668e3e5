/**
 * `silo`: parse the command line, call the control plane, print. Nothing else.
 */
import { Command, CommanderError } from 'commander';
import { loadConfig, type SiloConfig } from '../control/config.js';
import { createTenant, tenantHosts } from '../control/provision.js';
import { attachTenant, detachTenant, down, reload, status, tenantUrl, up } from '../control/stack.js';
import { disconnect } from '../control/pm2.js';
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
  .option('--max-memory <size>', "restart this tenant's worker above this memory, e.g. 300M (default SILO_WORKER_MAX_MEMORY)")
  .action(async (name: string, opts: { domain: string[]; server?: string; maxMemory?: string }) => {
    const cfg = config();
    const result = await createTenant(cfg, name, {
      domains: opts.domain.length ? opts.domain : undefined,
      server: opts.server,
      maxMemory: opts.maxMemory,
    });
    const url = tenantUrl(cfg, name, result.entry.domains);
    const live = await attachTenant(cfg, name);
    const where = live ? `live at ${url}` : `${url} (start the stack with silo up)`;
    printLine(result.created ? `created tenant ${name} on server ${result.entry.server}: ${where}` : `tenant ${name} already exists: ${where}`);
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
    await detachTenant(cfg, name);
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

program
  .command('up')
  .description('start the embedded database, every tenant worker and the proxy; print the URLs')
  .action(async () => {
    const cfg = config();
    const r = await up(cfg, (l) => printLine(l));
    printLine(r.already ? 'the stack is already up:' : 'silo is up:');
    for (const url of r.urls) printLine(`  ${url}`);
  });

program
  .command('down')
  .description('stop everything silo up started (data stays)')
  .action(async () => {
    config();
    const n = await down((l) => printLine(l));
    printLine(n === 0 ? 'the stack is not running' : 'silo is down');
  });

program
  .command('status')
  .description('tenants, workers, proxy and database servers')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => {
    const s = await status(config());
    if (opts.json) return printJson(s);
    printLine(`proxy: ${s.proxy.kind} ${s.proxy.status}${s.proxy.pid ? ` (pid ${s.proxy.pid})` : ''} on ${s.proxy.listen}`);
    for (const db of s.servers) printLine(`database ${db.name}: ${db.kind} ${db.status} on ${db.host}:${db.port}`);
    if (s.tenants.length === 0) return printLine('no tenants yet');
    printTable(
      s.tenants.map((t) => ({ ...t, memory: t.memoryMB === undefined ? undefined : `${t.memoryMB} MB`, schema: t.schemaVersion })),
      ['name', 'worker', 'pid', 'memory', 'restarts', 'server', 'schema', 'url'],
    );
  });

program
  .command('reload [tenant]')
  .description('restart workers one at a time without failing a request')
  .action(async (name?: string) => {
    const cfg = config();
    if (name) validateTenantName(name);
    const names = await reload(cfg, (l) => printLine(l), name);
    printLine(`reloaded ${names.length} worker${names.length === 1 ? '' : 's'}`);
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
  await disconnect();
  process.exit(0);
} catch (err) {
  await disconnect().catch(() => undefined);
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 1);
  }
  fail(err);
}
