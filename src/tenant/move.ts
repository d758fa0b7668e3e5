/**
 * `silo tenant move <name> --to <server> [--keep-source]`: move a tenant's database to
 * another PostgreSQL server. A first copy is made while the tenant serves (it proves the
 * target: role, restore, schema); then the tenant is suspended, its sessions on the
 * source are closed (a write still in flight fails unacknowledged, none is lost), and
 * the final copy is made while PM2 reloads the worker onto the target; the copy is
 * checked table by table against the source and renamed into place, and the tenant
 * resumes. Until the copy is in place ("promoted", recorded in the registry) the source
 * is the tenant's database: any failure (a target that dies half-way) puts the registry
 * and the worker back on the source and resumes the tenant there. The registry records
 * the move (`moving`), so an interrupted move is finished by running it again.
 *
 *   check          the tenant and the target exist; a move under way is to the same place
 *   record-move    registry: moving = { from, to }
 *   open-servers
 *   reopen-source  until promoted: the tenant's role may log in on the source
 *   target-role    the tenant's role on the target, same password and limits (its
 *                  dump role, which pg_dump logs in as, is made with the copy's rules)
 *   first-copy     pg_dump | pg_restore into <name>_incoming on the target, as the role
 *   suspend        the proxy answers 503 + Retry-After
 *   close-source   the role may not log in on the source; its sessions are ended
 *   switch         registry: the tenant lives on the target
 *   final-copy     again, from a source nobody writes to; the worker reloads meanwhile
 *   verify         schema version and the row count of every table equal the source's
 *                  (read in pinned sessions, never as a superuser: tenant-session.ts)
 *   promote        <name>_incoming becomes <name> on the target; registry: promoted
 *   worker         the reloaded worker answers /readyz on the target
 *   resume
 *   drop-source    its database and role on the source (--keep-source: kept, closed)
 *   finish         registry: the move is over
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { validateServerName, validateTenantName } from '../common/names.js';
import { updateRegistry, type Registry } from '../registry/registry.js';
import type { OpenServer } from '../servers/servers.js';
import { readSecret } from '../common/secrets.js';
import { ident } from '../postgres/admin.js';
import { databaseExists, dropDatabase, dropDumpRole, dropRole, ensureRole } from '../postgres/tenant-ddl.js';
import { copyDatabase, findPgDump } from '../postgres/pg-dump.js';
import { closeDatabase, createSide, dropSide, sideName, swapIn } from '../postgres/side-database.js';
import { schemaVersion, tableCounts, tenantSession } from '../postgres/tenant-session.js';
import { address, dumpCredentials } from '../servers/tenant-credentials.js';
import { serverMajor } from '../backup/backup.js';
import { ensureDatabaseRules } from '../servers/database-rules.js';
import { connectionLimit } from './create.js';
import { resumeTenant, suspendTenant } from './suspend.js';
import { onTenant, type TenantOperation } from './operation.js';
import { stackIsUp } from '../stack/live.js';
import { runtimeFor } from '../runtime/select.js';
import { runSteps, type Step } from '../common/steps.js';
import { timed } from './steps-timing.js';
import { SiloError } from '../common/errors.js';
import { isAsleep } from '../hibernate/state.js';
import { emit } from '../events/emit.js';

export interface MoveOptions {
  to: string;
  keepSource?: boolean;
  log?: (line: string) => void;
}

export interface MoveResult {
  name: string;
  from: string;
  to: string;
  moved: boolean;
  bytes?: number;
  totalMs: number;
  /** ms during which the proxy answered the tenant's hosts 503 */
  suspendedMs?: number;
  sourceKept: boolean;
  /** ms per step that acted */
  stepMs: Record<string, number>;
}

interface Ctx {
  cfg: SiloConfig;
  /** ms each step that acted took */
  stepMs: Record<string, number>;
  name: string;
  opts: MoveOptions;
  from: string;
  reg: Registry;
  source?: OpenServer;
  target?: OpenServer;
  password: string;
  bytes?: number;
  suspendedAt?: number;
  suspendedMs?: number;
  /** its copy is in place on the target (recorded in the registry): no way back */
  promoted: boolean;
  /** the worker's reload onto the target, started with the final copy */
  reloading?: Promise<void | Error>;
  nothingToDo: boolean;
  log: (line: string) => void;
  op: TenantOperation;
}

const roleLogin = (sql: Sql, name: string, login: boolean) => sql.unsafe(`alter role ${ident(name)} ${login ? 'login' : 'nologin'}`);

/** Test hook: SILO_TEST_HOLD_AT=move:<point> makes the move wait at that point until the test removes the file it creates. */
async function holdPoint(c: Ctx, point: string): Promise<void> {
  if (process.env.SILO_TEST_HOLD_AT !== `move:${point}`) return;
  const file = join(c.cfg.home, `hold-move-${point}`);
  writeFileSync(file, String(process.pid));
  while (existsSync(file)) await new Promise((r) => setTimeout(r, 50));
}

async function copy(c: Ctx): Promise<void> {
  const major = Math.max(await serverMajor(c.source!), await serverMajor(c.target!));
  const [pgDump, pgRestore] = await Promise.all([findPgDump(major), findPgDump(major, 'pg_restore')]);
  await createSide(c.target!.admin, c.name, 'incoming');
  await ensureDatabaseRules(c.cfg, c.reg, c.target!, c.name, sideName(c.name, 'incoming'));
  const t = c.target!.entry;
  // pg_dump as the dump role on the source (the tenant's own role is closed there for the final copy).
  const d = await copyDatabase(pgDump, pgRestore, dumpCredentials(c.cfg, c.reg, c.name, c.from), {
    ...address(t),
    user: c.name,
    password: c.password,
    database: sideName(c.name, 'incoming'),
  });
  c.bytes = d.bytes;
}

/** The tenant's worker, reloaded by its runtime from its definition in `reg`. */
async function reloadWorker(c: Ctx, reg: Registry): Promise<void> {
  if (!(await stackIsUp())) return;
  const runtime = runtimeFor(c.cfg);
  if ((await runtime.workers()).has(c.name)) await runtime.reload(c.cfg, reg, c.name);
  else await runtime.start(c.cfg, reg, c.name);
}

const promoted = (c: Ctx) => c.nothingToDo || c.promoted;

const steps: Step<Ctx>[] = [
  {
    name: 'check',
    run(c) {
      const t = c.op.entry!;
      if (t.state !== 'ready') throw new SiloError(`tenant "${c.name}" is ${t.state}, not ready`);
      if (!c.reg.servers[c.opts.to]) throw new SiloError(`unknown server "${c.opts.to}" (see silo server list)`);
      if (t.moving && t.moving.to !== c.opts.to) throw new SiloError(`a move of "${c.name}" to "${t.moving.to}" is under way: finish it first (silo tenant move ${c.name} --to ${t.moving.to})`);
      c.from = t.moving?.from ?? t.server;
      c.promoted = t.moving?.promoted === true;
      c.nothingToDo = t.server === c.opts.to && !t.moving;
      const password = readSecret(homePaths(c.cfg.home).tenantPassword(c.name));
      if (!password) throw new SiloError(`the password file of tenant "${c.name}" is missing (silo tenant repair ${c.name})`);
      c.password = password;
    },
  },
  {
    name: 'record-move',
    done: (c) => c.nothingToDo || c.reg.tenants[c.name]!.moving !== undefined,
    async run(c) {
      await updateRegistry(homePaths(c.cfg.home).registry, (reg) => {
        reg.tenants[c.name]!.moving = { from: c.from, to: c.opts.to };
      });
    },
  },
  {
    name: 'open-servers',
    done: (c) => c.nothingToDo,
    async run(c) {
      c.source = await c.op.server(c.from);
      c.target = await c.op.server(c.opts.to);
    },
  },
  {
    name: 'reopen-source',
    done: promoted,
    run: (c) => roleLogin(c.source!.admin, c.name, true),
  },
  {
    name: 'target-role',
    done: promoted,
    async run(c) {
      await ensureRole(c.target!.admin, c.name, c.password, { connectionLimit: connectionLimit(c.cfg) });
      // Its dump role on the source (a tenant an older silo made has none yet).
      await ensureDatabaseRules(c.cfg, c.reg, c.source!, c.name);
    },
  },
  {
    name: 'first-copy',
    done: promoted,
    async run(c) {
      await copy(c);
      c.log(`copied ${c.name} to ${c.opts.to} (${c.bytes} bytes) while it serves; now the final copy`);
    },
  },
  {
    name: 'suspend',
    done: promoted,
    async run(c) {
      await suspendTenant(c.cfg, c.name, { by: 'move' });
      c.suspendedAt = performance.now();
    },
  },
  {
    name: 'close-source',
    done: promoted,
    async run(c) {
      await roleLogin(c.source!.admin, c.name, false);
      await c.source!.admin`select pg_terminate_backend(pid, 5000) from pg_stat_activity where usename = ${c.name} and pid <> pg_backend_pid()`;
    },
  },
  {
    name: 'switch',
    done: promoted,
    async run(c) {
      await updateRegistry(homePaths(c.cfg.home).registry, (reg) => {
        reg.tenants[c.name]!.server = c.opts.to;
        c.reg = reg;
      });
    },
  },
  {
    name: 'final-copy',
    done: promoted,
    async run(c) {
      await holdPoint(c, 'final-copy');
      // The worker reloads onto the target meanwhile: its new process starts, listens and
      // tries its database (which appears under its name at promote; a kept copy of that
      // name is closed then), and no request reaches it while the tenant is suspended. The reload is over before the
      // next step (PM2's calls run with a reduced process.env, which nothing else may
      // read meanwhile: the copy only reads PATH, which stays).
      c.reloading = reloadWorker(c, c.reg).catch((err: Error) => err);
      await copy(c);
      const reloaded = await c.reloading;
      if (reloaded instanceof Error) throw reloaded;
    },
  },
  {
    name: 'verify',
    done: promoted,
    async run(c) {
      // Pinned sessions: the dump role on the source (its own role is closed), the
      // tenant's role on the copy; neither a superuser (tenant-session.ts).
      const src = await tenantSession(dumpCredentials(c.cfg, c.reg, c.name, c.from));
      const dst = await tenantSession({ ...address(c.target!.entry), user: c.name, password: c.password, database: sideName(c.name, 'incoming') }).catch(
        async (err: Error) => (await src.end({ timeout: 1 }), Promise.reject(err)),
      );
      try {
        const [a, b] = await Promise.all([Promise.all([schemaVersion(src), tableCounts(src)]), Promise.all([schemaVersion(dst), tableCounts(dst)])]);
        if (a[0] !== b[0]) throw new SiloError(`the copy on ${c.opts.to} is at schema version ${b[0]}, the source at ${a[0]}`);
        if (JSON.stringify(a[1]) !== JSON.stringify(b[1])) throw new SiloError(`the copy on ${c.opts.to} differs from the source (rows: ${JSON.stringify(b[1])} vs ${JSON.stringify(a[1])})`);
      } finally {
        await Promise.all([src.end({ timeout: 2 }), dst.end({ timeout: 2 })]);
      }
    },
  },
  {
    name: 'promote',
    done: promoted,
    async run(c) {
      // A database of the tenant's name already on the target is the copy an earlier
      // `--keep-source` move left there, open again to the tenant's role since
      // target-role: the worker reloaded onto the target connects as it starts and may
      // hold a session in it, and PostgreSQL renames no database in use. Closed first
      // (the tenant is suspended: nothing is served from it).
      if (await databaseExists(c.target!.admin, c.name)) await closeDatabase(c.target!.admin, c.name);
      await swapIn(c.target!.admin, c.name, 'incoming');
      await dropSide(c.target!.admin, c.name, 'previous'); // a copy an interrupted move had promoted
      await updateRegistry(homePaths(c.cfg.home).registry, (reg) => {
        reg.tenants[c.name]!.moving!.promoted = true;
        c.reg = reg;
      });
      c.promoted = true;
    },
  },
  {
    name: 'worker',
    done: (c) => c.nothingToDo,
    async run(c) {
      // Reloaded with the final copy, or (a re-run after a crash) now.
      if (!c.reloading) await reloadWorker(c, c.reg);
      if (await stackIsUp()) await runtimeFor(c.cfg).waitReady(c.cfg, c.name);
    },
  },
  {
    name: 'resume',
    done: (c) => c.nothingToDo,
    async run(c) {
      await resumeTenant(c.cfg, c.name, 'move');
      if (c.suspendedAt !== undefined) c.suspendedMs = performance.now() - c.suspendedAt;
    },
  },
  {
    name: 'drop-source',
    done: (c) => c.nothingToDo || c.opts.keepSource === true,
    async run(c) {
      await dropDatabase(c.source!.admin, c.name);
      await dropDumpRole(c.source!.admin, c.name);
      await dropRole(c.source!.admin, c.name);
    },
  },
  {
    name: 'finish',
    done: (c) => c.nothingToDo,
    async run(c) {
      await updateRegistry(homePaths(c.cfg.home).registry, (reg) => {
        delete reg.tenants[c.name]!.moving;
      });
    },
  },
];

/**
 * Before its copy is promoted on the target, a failed move goes back: the tenant lives
 * on its source again (registry, worker, role), resumed; the partial copy goes.
 */
async function rollBack(c: Ctx): Promise<void> {
  if (c.reloading) await c.reloading;
  if (c.source) await roleLogin(c.source.admin, c.name, true).catch(() => undefined);
  const reg = await updateRegistry(homePaths(c.cfg.home).registry, (r) => {
    const t = r.tenants[c.name];
    if (t) {
      t.server = c.from;
      delete t.moving;
    }
    return r;
  }).catch(() => undefined);
  if (reg?.tenants[c.name]) {
    await reloadWorker(c, reg).catch(() => undefined);
    if (await stackIsUp().catch(() => false)) await runtimeFor(c.cfg).waitReady(c.cfg, c.name).catch(() => undefined);
  }
  await resumeTenant(c.cfg, c.name, 'move').catch(() => undefined);
  if (c.target) await dropSide(c.target.admin, c.name, 'incoming').catch(() => undefined);
}

export async function moveTenant(cfg: SiloConfig, name: string, opts: MoveOptions): Promise<MoveResult> {
  validateTenantName(name);
  validateServerName(opts.to);
  return onTenant(cfg, name, { what: 'tenant.move', details: { to: opts.to } }, async (op) => {
    const started = performance.now();
    const c: Ctx = { cfg, stepMs: {}, name, opts, from: '', reg: op.reg, password: '', promoted: false, nothingToDo: false, log: opts.log ?? (() => undefined), op };
    try {
      await runSteps('move', timed(steps), c);
    } catch (err) {
      if (!c.from || c.nothingToDo) throw err;
      if (!c.promoted) {
        await rollBack(c);
        throw new SiloError(`moving "${name}" to "${opts.to}" failed: ${(err as Error).message}; it still serves from "${c.from}"`);
      }
      throw new SiloError(`moving "${name}" to "${opts.to}": ${(err as Error).message}; it now lives on "${opts.to}": run the same command again to finish`);
    } finally {
      rmSync(join(cfg.home, 'hold-move-final-copy'), { force: true });
    }
    if (!c.nothingToDo) emit(cfg, 'tenant.moved', { tenant: name, from: c.from, to: opts.to });
    return { name, from: c.from, to: opts.to, moved: !c.nothingToDo, bytes: c.bytes, totalMs: performance.now() - started, suspendedMs: c.suspendedMs, sourceKept: opts.keepSource === true, stepMs: c.stepMs };
  });
}
