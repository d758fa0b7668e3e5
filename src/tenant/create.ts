/**
 * `silo tenant create`: one ordered list of idempotent steps (see steps.ts), run under
 * the tenant's lock and the registry lock (operation.ts). The registry records the tenant
 * as `provisioning` before anything is made on a database server, so a crash anywhere
 * leaves a state that running the same command again completes (or `silo tenant remove` cleans up): a role or database
 * named like a `provisioning` tenant is silo's own half-done work.
 *
 *   register      place it on a server, allocate a port, record it as `provisioning`
 *                 (refused if that server already holds a role or database of the name)
 *   then each part of the tenant, in the order of stack/parts/parts.ts, ensured
 *   (what each part is: its module there):
 *   password-file, os-user, cpu-group    on this host; made when their check says so
 *   role, dump-role, database, connections, grants, catalogs, schema
 *                 on its database server, while it is provisioning (the schema is
 *                 migrated as the tenant's role)
 *   mark-ready    record it as `ready`
 *   worker, route if the stack is up: start its worker under PM2 (or restart it with
 *                 changed settings), render the proxy config, and wait until its host
 *                 answers through the proxy
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { isDomainName, normaliseHostName, tenantHosts, validateTenantName } from '../common/names.js';
import { writeRegistry, type Registry, type TenantEntry } from '../registry/registry.js';
import { ensureDefaultServer, placeTenant } from '../servers/servers.js';
import { allocatePort } from '../common/ports.js';
import { ownedBy } from '../postgres/tenant-ddl.js';
import { loadAppMigrations } from '../apps/app-migrations.js';
import { SiloError } from '../common/errors.js';
import { DATABASE_RULES } from '../servers/database-rules.js';
import { runSteps, type Step } from '../common/steps.js';
import { connectionLimit } from '../isolation/limits.js';
import { onTenant, type TenantOperation } from './operation.js';
import { stackIsUp } from '../stack/live.js';
import { TENANT_PARTS, type PartContext, type TenantPart } from '../stack/parts/parts.js';
import { isDuration } from '../common/duration.js';
import { emit } from '../events/emit.js';
import { tenantUrl } from '../stack/stack.js';

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

interface CreateContext extends PartContext {
  opts: CreateOptions;
  /** the registry as read under the lock; steps change it and write it back */
  reg: Registry;
  domains: string[];
  /** settings of a ready tenant changed by this run: its worker must restart */
  restart: boolean;
  created: boolean;
  op: TenantOperation;
}

const entryOf = (c: CreateContext) => c.reg.tenants[c.name]!;
const save = (c: CreateContext) => writeRegistry(c.paths.registry, c.reg);

const isReady = (c: CreateContext) => c.reg.tenants[c.name]?.state === 'ready';

/**
 * Create's step for a part (stack/parts/part.ts): a host part is made when its check finds
 * it wrong (a re-run with new limits rewrites the CPU group); a database part is made while
 * the tenant is provisioning and left alone once it is ready (repair checks those); a stack
 * part is ensured whenever the stack is up (new settings restart the worker and re-render
 * the route).
 */
function ensure(part: TenantPart): Step<CreateContext> {
  const done: Record<TenantPart['where'], Step<CreateContext>['done']> = {
    host: async (c) => (await part.check(c)) === undefined,
    database: isReady,
    stack: (c) => !c.live,
  };
  return { name: part.name, done: done[part.where], run: (c) => part.ensure(c) };
}

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
      const s = await c.server();
      for (const kind of ['role', 'database'] as const) {
        if ((await ownedBy(s.admin, kind, c.name)) !== 'missing') {
          delete c.reg.tenants[c.name];
          throw new SiloError(`a ${kind} named "${c.name}" already exists on this server and was not created by silo (server "${where}")`);
        }
      }
      save(c);
    },
  },
  ...TENANT_PARTS.filter((p) => p.where !== 'stack').map(ensure),
  {
    name: 'mark-ready',
    done: isReady,
    run(c) {
      entryOf(c).state = 'ready';
      entryOf(c).databaseRules = DATABASE_RULES;
      save(c);
    },
  },
  ...TENANT_PARTS.filter((p) => p.where === 'stack').map(ensure),
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
  // The control API's admin host is the proxy's, never a tenant's (the proxy would send it there).
  const taken = c.cfg.control && c.cfg.controlHost ? tenantHosts(c.cfg, c.name, { domains: c.domains }).find((h) => h === c.cfg.controlHost) : undefined;
  if (taken) throw new SiloError(`"${taken}" is the control API's host (SILO_CONTROL_HOST): it cannot be a tenant's`);
  c.created = existing?.state !== 'ready';
  if (!existing) return;
  // Re-running create with new settings updates them.
  if (c.opts.domains && c.domains.join() !== existing.domains.join()) {
    existing.domains = c.domains;
    c.restart = true;
  }
  if (c.opts.maxMemory && c.opts.maxMemory !== existing.maxMemory) {
    existing.maxMemory = c.opts.maxMemory;
    c.restart = true;
  }
  // New limits need no restart: the proxy re-renders (route) and the CPU group is rewritten (cpu-group).
  const limits = { ...existing.limits, ...limitsOf(c.opts).limits };
  if (JSON.stringify(limits) !== JSON.stringify(existing.limits ?? {})) {
    existing.limits = limits;
    save(c);
  }
  if (c.opts.hibernateAfter && c.opts.hibernateAfter !== existing.hibernateAfter) {
    existing.hibernateAfter = c.opts.hibernateAfter;
    c.restart = true;
  }
  if (c.restart) save(c);
}

export async function createTenant(cfg: SiloConfig, name: string, opts: CreateOptions = {}): Promise<CreateResult> {
  validateTenantName(name);
  await loadAppMigrations(cfg); // a broken app stops here, before the locks
  const paths = homePaths(cfg.home);
  await ensureDefaultServer(cfg);

  return onTenant(cfg, name, { what: 'tenant.create', tenant: 'any', registryLock: true }, async (op) => {
    const c: CreateContext = {
      cfg,
      name,
      opts,
      paths,
      reg: op.reg,
      domains: [],
      restart: false,
      created: false,
      live: await stackIsUp(),
      op,
      server: () => op.server(entryOf(c).server),
    };
    prepare(c);
    await runSteps('create', createSteps, c);
    const entry = entryOf(c);
    if (c.created) emit(cfg, 'tenant.created', { tenant: name, server: entry.server, hosts: tenantHosts(cfg, name, entry), url: tenantUrl(cfg, name, entry.domains), live: c.live });
    return { name, created: c.created, entry: entryOf(c), live: c.live };
  });
}
