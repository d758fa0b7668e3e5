/** `silo up | down [--purge] | status | reload`. */
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import type { SiloConfig } from '../../common/config.js';
import { createInterface } from 'node:readline';
import { down, reload } from '../../stack/stack.js';
import { upWithDemo } from '../../tenant/demo.js';
import { describePlan, purge, purgePlan } from '../../stack/purge.js';
import { SiloError } from '../../common/errors.js';
import { status } from '../../stack/status.js';
import { validateTenantName } from '../../common/names.js';
import { printJson, printLine, printTable } from '../output.js';
import { stackRelease } from '../../apps/stack-app.js';
import { releaseShort } from '../../apps/releases.js';

/** Say what a purge removes, ask (or take --yes), do it, and say what could not go. */
async function purgeCommand(cfg: SiloConfig, yes: boolean): Promise<void> {
  const plan = purgePlan(cfg);
  for (const line of describePlan(plan)) printLine(line);
  if (!yes) {
    if (!process.stdin.isTTY) throw new SiloError('refusing to purge without --yes: there is no terminal to confirm on');
    if (!(await confirm('purge? type "yes" to go on: '))) throw new SiloError('nothing was purged');
  }
  // Without a registry there is no stack to stop: only its leftovers, said in one line.
  const r = await purge(cfg, plan.registry ? (l) => printLine(l) : () => {});
  if (r.left.length) throw new SiloError(`purged, except: ${r.left.join('; ')}`);
  if (!plan.registry && plan.folder) printLine(`purged ${plan.home}, a state folder without registry.json: removed ${r.removed.join(', ')}`);
  else printLine(`purged: nothing silo made for ${plan.home} is left on this host`);
}

function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer.trim().toLowerCase() === 'yes');
    });
    rl.on('close', () => resolve(false));
  });
}

export function register(program: Command, config: (opts?: { forUp?: boolean }) => SiloConfig): void {
  program
    .command('up')
    .description('start the embedded database, every tenant worker and the proxy; print the URLs')
    .action(async () => {
      const cfg = config({ forUp: true });
      const release = await stackRelease(cfg);
      const r = await upWithDemo(cfg, (l) => printLine(l), { release });
      printLine(r.already ? 'the stack is already up:' : 'silo is up:');
      for (const url of r.urls) printLine(`  ${url}`);
    });

  program
    .command('down')
    .description('stop everything silo up started (data stays)')
    .option('--purge', "also remove everything silo made on this host for SILO_HOME (tenant users and groups, control groups, the folder with its data and backups)")
    .option('--yes', 'purge without asking')
    .action(async (opts: { purge?: boolean; yes?: boolean }) => {
      if (opts.yes && !opts.purge) throw new SiloError('--yes goes with --purge (silo down alone keeps everything)');
      if (opts.purge) return purgeCommand(config(), opts.yes === true);
      const n = await down(config(), (l) => printLine(l));
      printLine(n === 0 ? 'the stack is not running' : 'silo is down');
    });

  program
    .command('status')
    .description('tenants, workers, proxy and database servers')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const s = await status(config());
      if (opts.json) return printJson(s);
      const pm2 = (state: string | undefined, answers: boolean) => (state === undefined || (state === 'online') === answers ? '' : ` (PM2: ${state})`);
      printLine(`proxy: ${s.proxy.kind} ${s.proxy.status}${pm2(s.proxy.pm2, s.proxy.status === 'online')}${s.proxy.pid ? ` (pid ${s.proxy.pid})` : ''} on ${s.proxy.listen}`);
      for (const db of s.servers) {
        printLine(`database ${db.name}: ${db.kind} ${db.status}${pm2(db.pm2, db.status === 'online')} on ${db.host.startsWith('/') ? `${db.host}/.s.PGSQL.${db.port}` : `${db.host}:${db.port}`}${db.error ? `: ${db.error}` : ''}`);
        const c = db.connections;
        if (c) {
          printLine(
            `  connections: ${c.used} of ${c.budget} used by tenants (${c.awake} of ${c.tenants} awake); ${c.busyAtOnce} busy at once at a pool of ${c.pool} each before one waits` +
              ` (max_connections ${c.maxConnections}: ${c.superuserReserved} for superusers, ${c.maxConnections - c.superuserReserved - c.budget} for silo; ${c.others} other sessions now)`,
          );
        }
      }
      printLine(
        s.workerUsers === 'own'
          ? "workers: each runs as its tenant's own Unix user"
          : `workers: all share silo's Unix user (${userInfo().username}); run silo as root for one user per tenant`,
      );
      printLine(`cpu limits: ${s.cpuLimits}`);
      if (s.control) printLine(`control API: ${s.control.status}${s.control.pid ? ` (pid ${s.control.pid})` : ''} on ${s.control.socket}`);
      if (s.backups) printLine(`backups: ${s.backups.status}, "${s.backups.schedule}"${s.backups.keep ? `, keeping ${s.backups.keep} per tenant` : ''}`);
      if (s.tls) {
        printLine(`https: on ${s.tls.listen}; certificates:`);
        printTable(
          s.tls.certificates.map((c) => ({ host: c.host, source: c.source, issued: c.issuedAt?.slice(0, 16), expires: c.expiresAt?.slice(0, 16), error: c.lastError })),
          ['host', 'source', 'issued', 'expires', 'error'],
        );
      }
      if (s.supposedToRun && !s.up) printLine('the stack should be up but its proxy does not answer: run silo up');
      if (s.tenants.length === 0) return printLine('no tenants yet');
      printTable(
        s.tenants.map((t) => ({ ...t, rate: t.limits.rate ? `${t.limits.rate}/s` : 'none', cpu: t.limits.cpu ? `${t.limits.cpu}%` : 'shared', memory: t.memoryMB === undefined ? undefined : `${t.memoryMB} MB`, schema: t.schemaVersion, release: releaseShort(t.release) })),
        // On a swarm, the node each worker runs on (its pid is the container's, on that node).
        ['name', 'state', 'worker', ...(s.tenants.some((t) => t.node) ? ['node'] : []), 'idle', 'pid', 'user', 'rate', 'cpu', 'memory', 'restarts', 'server', 'schema', 'release', 'url'],
      );
      // Use against ceilings (0: none).
      const mb = (n?: number) => (n === undefined ? '?' : String(Math.round(n / 1048576)));
      const of = (used: string, max: number, shown: string) => `${used}/${max ? shown : 'none'}`;
      printLine('ceilings (used/ceiling):');
      printTable(
        s.tenants.map((t) => {
          const c = t.ceilings;
          return {
            name: t.name,
            processes: of(c.pids.used === undefined ? '?' : String(c.pids.used), c.pids.max, String(c.pids.max)),
            memory: of(mb(c.memory.used), c.memory.max, `${mb(c.memory.max)} MB`) + (c.memory.oomKills ? ` (${c.memory.oomKills} killed)` : ''),
            logs: of(mb(c.logs.used), c.logs.max, `${mb(c.logs.max)} MB`),
            database: of(mb(c.database.used), c.database.max, `${mb(c.database.max)} MB`) + (c.database.refused ? ' REFUSED' : ''),
            connections: of(c.connections.used === undefined ? '?' : String(c.connections.used), c.connections.max, String(c.connections.max)),
          };
        }),
        ['name', 'processes', 'memory', 'logs', 'database', 'connections'],
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
}
