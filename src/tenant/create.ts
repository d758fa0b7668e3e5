/**
 * `silo tenant create`: one ordered list of idempotent steps (see steps.ts), run under
 * the tenant's lock and the registry lock (operation.ts). The registry records the tenant
 * as `provisioning` before anything is made on a database server, so a crash anywhere
 * leaves a state that running the same command again completes (or `silo tenant remove` cleans up): a role or database
 * named like a `provisioning` tenant is silo's own half-done work.
 *
 *   register      place it on a server, allocate a port, record it as `provisioning`
 *                 (refused if that server already holds a role or database of the name)
 *   password      write its password file (0600), and its dump role's
 *   os-user       under root: its own Unix user, which gets the password file (0400)
 *                 and its log files; its worker runs as that user
 *   cpu-group     where cgroups exist (root): its worker's CPU group, an equal weight
 *                 and its CPU quota (src/isolation/cgroups.ts)
 *   role          create or align its role (login, no privileges, connection limit),
 *                 and its dump role (pg_dump logs in as it: postgres/tenant-ddl.ts)
 *   database      create its database, owned by the role; revoke CONNECT from PUBLIC
 *   hide-catalogs in its database, revoke from PUBLIC the catalogs and functions that
 *                 name every database, role and session of the server (other tenants'
 *                 names): the one superuser session in a tenant database, pinned
 *                 (postgres/tenant-session.ts)
 *   migrate       apply the app's migrations, connected as the tenant's role
 *   mark-ready    record it as `ready`
 *   start-worker  if the stack is up: start its worker under PM2 (or restart it with
 *                 changed settings) and wait until it is ready
 *   route         if the stack is up: render the proxy config from the registry, reload
 *                 the proxy, and wait until its host answers through it
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths, type HomePaths } from '../common/paths.js';
import { isDomainName, normaliseHostName, tenantHosts, validateTenantName } from '../common/names.js';
import { writeRegistry, type Registry, type TenantEntry } from '../registry/registry.js';
import { adminUrl, ensureDefaultServer, placeTenant, type OpenServer } from '../servers/servers.js';
import { allocatePort } from '../common/ports.js';
import { generatePassword, readSecret, writeSecret } from '../common/secrets.js';
import { ensureDatabase, ensureDumpRole, ensureRole, ownedBy } from '../postgres/tenant-ddl.js';
import { connectAs, hardenTenantDatabase } from '../postgres/tenant-session.js';
import { migrate } from '../migrate/run.js';
import { loadAppMigrations } from '../apps/app-migrations.js';
import { tenantCredentials } from '../servers/tenant-credentials.js';
import { SiloError } from '../common/errors.js';
import { DATABASE_RULES } from '../servers/database-rules.js';
import { runSteps, type Step } from '../common/steps.js';
import { ceilingsNeedWork, ensureTenantCeilings } from '../isolation/ceilings.js';
import { connectionLimit } from '../isolation/limits.js';
import { onTenant, type TenantOperation } from './operation.js';
import { ensureTenantUser, handOverFiles, passwordFileProblem, perTenantUsers, tenantUser } from '../isolation/tenant-user.js';
import { primaryHost, stackIsUp, syncProxy, waitThroughProxy } from '../stack/live.js';
import { ensureWorker, isOnline, running, waitWorker } from '../pm2/workers.js';
import { workerApp, workerApps } from '../pm2/ecosystem.js';
import * as pm2 from '../pm2/pm2.js';
import type { Migration } from '../migrate/files.js';
import { isDuration } from '../common/duration.js';

export { tenantHosts };

export interface CreateOptions {
  domains?: string[];
  server?: string;
  /** a memory ceiling for this tenant's worker, e.g. "300M" */
  maxMemory?: string;
  /** requests per second at the proxy (0: none); default SILO_TENANT_RATE */
  rate?: number;
  /** CPU quota in percent of one core (0: none); default SILO_TENANT_CPU */
  cpu?: number;
  /** its own ceilings: processes and threads, database size (e.g. "500M") */
  pids?: number;
  dbSize?: string;
  /** idle time before its worker hibernates, e.g. "30m"; "0" never (default SILO_HIBERNATE_AFTER) */
  hibernateAfter?: string;
  /** the app release it starts on (a snapshot of SILO_APP); unset: the stack's app */
  release?: string;
}

const MEMORY = /^[1-9][0-9]*[KMG]$/;

export interface CreateResult {
  name: string;
  created: boolean;
  entry: TenantEntry;
  /** its worker runs and the proxy routes it (the stack is up) */
  live: boolean;
}

export { connectionLimit };

interface CreateContext {
  cfg: SiloConfig;
  name: string;
  opts: CreateOptions;
  paths: HomePaths;
  migrations: Migration[];
  /** the registry as read under the lock; steps change it and write it back */
  reg: Registry;
  domains: string[];
  /** settings of a ready tenant changed by this run: its worker must restart */
  changed: boolean;
  created: boolean;
  live: boolean;
  op: TenantOperation;
}

const entryOf = (c: CreateContext) => c.reg.tenants[c.name]!;
const save = (c: CreateContext) => writeRegistry(c.paths.registry, c.reg);

const server = (c: CreateContext): Promise<OpenServer> => c.op.server(entryOf(c).server);

const isReady = (c: CreateContext) => c.reg.tenants[c.name]?.state === 'ready';

export const createSteps: readonly Step<CreateContext>[] = [
  {
    name: 'register',
    done: (c) => c.reg.tenants[c.name] !== undefined,
    async run(c) {
      const where = placeTenant(c.reg, c.opts.server, c.cfg);
      const taken = Object.values(c.reg.tenants).map((t) => t.port);
      c.reg.tenants[c.name] = {
        server: where,
        port: await allocatePort(taken, c.cfg.workerPortBase),
        domains: c.domains,
        ...(c.opts.maxMemory ? { maxMemory: c.opts.maxMemory } : {}),
        ...limitsOf(c.opts),
        ...(c.opts.hibernateAfter ? { hibernateAfter: c.opts.hibernateAfter } : {}),
        ...(c.opts.release ? { release: { id: c.opts.release } } : {}),
        state: 'provisioning',
        schemaVersion: 0,
        createdAt: new Date().toISOString(),
      };
      // Before the name is ours: a role or database of that name is someone else's.
      const s = await server(c);
      for (const kind of ['role', 'database'] as const) {
        if ((await ownedBy(s.admin, kind, c.name)) !== 'missing') {
          delete c.reg.tenants[c.name];
          throw new SiloError(`a ${kind} named "${c.name}" already exists on this server and was not created by silo (server "${where}")`);
        }
      }
      save(c);
    },
  },
  {
    name: 'password',
    done: (c) => readSecret(c.paths.tenantPassword(c.name)) !== undefined && readSecret(c.paths.dumpPassword(c.name)) !== undefined,
    run(c) {
      for (const file of [c.paths.tenantPassword(c.name), c.paths.dumpPassword(c.name)]) if (readSecret(file) === undefined) writeSecret(file, generatePassword());
    },
  },
  {
    name: 'os-user',
    done: (c) => !perTenantUsers() || (tenantUser(c.cfg, c.name) !== undefined && passwordFileProblem(c.cfg, c.name) === undefined),
    run(c) {
      ensureTenantUser(c.cfg, c.name);
      handOverFiles(c.cfg, c.name);
    },
  },
  {
    name: 'cpu-group',
    done: (c) => !ceilingsNeedWork(c.cfg, c.name, entryOf(c)),
    run: (c) => ensureTenantCeilings(c.cfg, c.name, entryOf(c)),
  },
  {
    name: 'role',
    done: isReady,
    async run(c) {
      const password = readSecret(c.paths.tenantPassword(c.name))!;
      await ensureRole((await server(c)).admin, c.name, password, { connectionLimit: connectionLimit(c.cfg), adopt: true });
      await ensureDumpRole((await server(c)).admin, c.name, readSecret(c.paths.dumpPassword(c.name))!);
    },
  },
  {
    name: 'database',
    done: isReady,
    run: async (c) => ensureDatabase((await server(c)).admin, c.name, { adopt: true }),
  },
  {
    name: 'hide-catalogs',
    done: isReady,
    async run(c) {
      await server(c);
      await hardenTenantDatabase(adminUrl(c.cfg, entryOf(c).server), c.name, c.name);
    },
  },
  {
    name: 'migrate',
    done: isReady,
    async run(c) {
      await server(c);
      const sql = connectAs(tenantCredentials(c.cfg, c.reg, c.name));
      try {
        entryOf(c).schemaVersion = (await migrate(sql, c.migrations)).to;
      } catch (err) {
        throw new SiloError(`migrating tenant "${c.name}" failed: ${(err as Error).message} (fix it, then run the same command again)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  },
  {
    name: 'mark-ready',
    done: isReady,
    run(c) {
      entryOf(c).state = 'ready';
      entryOf(c).databaseRules = DATABASE_RULES;
      save(c);
    },
  },
  {
    name: 'start-worker',
    done: (c) => !c.live,
    async run(c) {
      const procs = await running();
      if (!c.changed || !isOnline(procs.get(workerApp(c.name)))) return ensureWorker(c.cfg, c.reg, c.name, procs);
      // New settings reach a running worker through a reload with its new definition.
      await pm2.reloadApp(workerApps(c.cfg, c.reg, c.name)[0]!);
      await waitWorker(c.cfg, c.name);
    },
  },
  {
    name: 'route',
    done: (c) => !c.live,
    async run(c) {
      await syncProxy(c.cfg, c.reg, true);
      await waitThroughProxy(c.cfg, c.name, primaryHost(c.cfg, c.reg, c.name));
    },
  },
];

/** The limits a command line set, as registry fields. */
function limitsOf(opts: CreateOptions): { limits?: { rate?: number; cpu?: number; pids?: number; dbSize?: string } } {
  const set = {
    ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
    ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
    ...(opts.pids !== undefined ? { pids: opts.pids } : {}),
    ...(opts.dbSize !== undefined ? { dbSize: opts.dbSize } : {}),
  };
  return Object.keys(set).length ? { limits: set } : {};
}

function checkDomains(cfg: SiloConfig, reg: Registry, name: string, domains: string[]): string[] {
  const wanted = [...new Set(domains.map(normaliseHostName))];
  for (const d of wanted) {
    if (!isDomainName(d)) throw new SiloError(`invalid domain "${d.slice(0, 80)}"`);
    for (const [other, t] of Object.entries(reg.tenants)) {
      if (other !== name && tenantHosts(cfg, other, t).includes(d)) {
        throw new SiloError(`domain "${d}" already belongs to tenant "${other}"`);
      }
    }
  }
  return wanted;
}

/** Options checked against the registry; a ready tenant's changed settings are applied. */
function prepare(c: CreateContext): void {
  const existing = c.reg.tenants[c.name];
  if (existing?.state === 'removing') {
    throw new SiloError(`tenant "${c.name}" is being removed: finish with silo tenant remove ${c.name} --yes`);
  }
  if (c.opts.server && existing && existing.server !== c.opts.server) {
    throw new SiloError(`tenant "${c.name}" already lives on server "${existing.server}"`);
  }
  if (c.opts.maxMemory !== undefined && !MEMORY.test(c.opts.maxMemory)) {
    throw new SiloError(`invalid memory limit "${c.opts.maxMemory.slice(0, 20)}": use a number with K, M or G, e.g. 300M`);
  }
  if (c.opts.hibernateAfter !== undefined && !isDuration(c.opts.hibernateAfter)) {
    throw new SiloError(`invalid --hibernate-after "${c.opts.hibernateAfter.slice(0, 20)}": use 0 (never) or a number with ms, s, m or h, e.g. 15m`);
  }
  c.domains = checkDomains(c.cfg, c.reg, c.name, c.opts.domains ?? existing?.domains ?? []);
  c.created = existing?.state !== 'ready';
  if (!existing) return;
  // Re-running create with new settings updates them.
  if (c.opts.domains && c.domains.join() !== existing.domains.join()) {
    existing.domains = c.domains;
    c.changed = true;
  }
  if (c.opts.maxMemory && c.opts.maxMemory !== existing.maxMemory) {
    existing.maxMemory = c.opts.maxMemory;
    c.changed = true;
  }
  // New limits need no restart: the proxy re-renders (route) and the CPU group is rewritten (cpu-group).
  const limits = { ...existing.limits, ...limitsOf(c.opts).limits };
  if (JSON.stringify(limits) !== JSON.stringify(existing.limits ?? {})) {
    existing.limits = limits;
    save(c);
  }
  if (c.opts.hibernateAfter && c.opts.hibernateAfter !== existing.hibernateAfter) {
    existing.hibernateAfter = c.opts.hibernateAfter;
    c.changed = true;
  }
  if (c.changed) save(c);
}

export async function createTenant(cfg: SiloConfig, name: string, opts: CreateOptions = {}): Promise<CreateResult> {
  validateTenantName(name);
  const migrations = await loadAppMigrations(cfg);
  const paths = homePaths(cfg.home);
  await ensureDefaultServer(cfg);

  return onTenant(cfg, name, { tenant: 'any', registryLock: true }, async (op) => {
    const c: CreateContext = {
      cfg,
      name,
      opts,
      paths,
      migrations,
      reg: op.reg,
      domains: [],
      changed: false,
      created: false,
      live: await stackIsUp(),
      op,
    };
    prepare(c);
    await runSteps('create', createSteps, c);
    return { name, created: c.created, entry: entryOf(c), live: c.live };
  });
}
