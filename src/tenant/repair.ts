/**
 * `silo tenant repair <name> | --all`: re-check everything creation set up, redo what is
 * missing or wrong, and say what it found. Each step's `done` is the check and its `run`
 * the fix, so the runner's report is the list of what was fixed. Runs under the tenant's
 * lock and the registry lock, like create. A check that throws stops the repair, which
 * reports it by name with the checks that ran before it.
 *
 *   ceiling         not refused for its database's size (then it stops: raise the ceiling)
 *   registry        a ready entry (an unfinished creation is completed by create)
 *   password-file   present, mode 0600 (a lost one is replaced; the role follows)
 *   os-user         under root: its own Unix user, owning its password file (0400)
 *   role            exists, silo's, login without privileges, its connection limit,
 *                   and the password file's password opens its database
 *   dump-role       its dump role (pg_dump logs in as it) and that role's password file
 *   database        exists (re-created empty and migrated if it was lost: restore it)
 *   connections     the database takes connections (a crashed swap may close it)
 *   grants          owned by the role; CONNECT for the role only (its dump role
 *                   connects as a member of it), never PUBLIC or others
 *   catalogs        in its database: the server-wide catalogs and the functions that
 *                   name other roles and sessions hidden from PUBLIC, pg_dump's catalogs
 *                   granted to the dump role (checked as the dump role, fixed by the one
 *                   pinned superuser session: postgres/tenant-session.ts)
 *   schema          migrated to the app's latest version
 *   worker          if the stack is up: online under PM2
 *   route           if the stack is up: its host answers through the proxy (or shows
 *                   the suspended page, if it is suspended)
 */
import { chmodSync, chownSync, statSync } from 'node:fs';
import type { Sql } from 'postgres';
import type { SiloConfig } from '../common/config.js';
import { homePaths, type HomePaths } from '../common/paths.js';
import { validateTenantName } from '../common/names.js';
import { readRegistry, type Registry } from '../registry/registry.js';
import { adminUrl } from '../servers/servers.js';
import { dumpCredentials, tenantCredentials } from '../servers/tenant-credentials.js';
import { generatePassword, readSecret, writeSecret } from '../common/secrets.js';
import { connectionProblem, ident } from '../postgres/admin.js';
import { dumpRoleProblem, ensureDatabase, ensureDumpRole, ensureRole, grantDatabase, ownedBy } from '../postgres/tenant-ddl.js';
import { connectAs, dumpRoleName, hardenTenantDatabase, hardeningProblems, schemaVersion, withTenantSession } from '../postgres/tenant-session.js';
import { allowsConnections, setAllowConnections } from '../postgres/side-database.js';
import { migrate } from '../migrate/run.js';
import { loadAppMigrations } from '../apps/app-migrations.js';
import { connectionLimit, createTenant } from './create.js';
import { primaryHost, stackIsUp, syncProxy, waitThroughProxy } from '../stack/live.js';
import { ensureWorker, running } from '../pm2/workers.js';
import { workerApp } from '../pm2/ecosystem.js';
import { probe } from '../common/http-probe.js';
import { runSteps, stepFailure, type Step, type StepReport } from '../common/steps.js';
import { onTenant, type TenantOperation } from './operation.js';
import { overTenants } from '../servers/fleet.js';
import { ensureTenantUser, handOverFiles, passwordFileProblem, passwordFileRule, perTenantUsers, tenantUser } from '../isolation/tenant-user.js';
import { SiloError } from '../common/errors.js';
import { sleepsOnPurpose } from '../hibernate/state.js';

export interface Finding {
  check: string;
  fixed: boolean;
  /** what was wrong, when it was fixed */
  detail?: string;
}

interface Ctx {
  cfg: SiloConfig;
  name: string;
  paths: HomePaths;
  reg: Registry;
  live: boolean;
  op: TenantOperation;
  notes: Map<string, string>;
}

async function admin(c: Ctx): Promise<Sql> {
  return (await c.op.server(c.reg.tenants[c.name]!.server)).admin;
}

function opensAsTenant(c: Ctx): Promise<string | undefined> {
  return connectionProblem(connectAs(tenantCredentials(c.cfg, c.reg, c.name)));
}

async function roleProblems(c: Ctx): Promise<string[]> {
  const sql = await admin(c);
  const [r] = await sql<{ super: boolean; createdb: boolean; createrole: boolean; repl: boolean; bypass: boolean; login: boolean; limit: number }[]>`
    select rolsuper as super, rolcreatedb as createdb, rolcreaterole as createrole, rolreplication as repl,
           rolbypassrls as bypass, rolcanlogin as login, rolconnlimit as limit
    from pg_roles where rolname = ${c.name}`;
  if (!r) return ['the role was missing'];
  const problems = [];
  if ((await ownedBy(sql, 'role', c.name)) !== 'ours') problems.push('its silo mark was missing');
  for (const [flag, label] of [[r.super, 'superuser'], [r.createdb, 'createdb'], [r.createrole, 'createrole'], [r.repl, 'replication'], [r.bypass, 'bypassrls']] as const) {
    if (flag) problems.push(`it had ${label}`);
  }
  if (!r.login) problems.push('it could not log in');
  if (r.limit !== connectionLimit(c.cfg)) problems.push(`its connection limit was ${r.limit}`);
  if (problems.length === 0 && (await ownedBy(sql, 'database', c.name)) !== 'missing') {
    const failed = await opensAsTenant(c);
    if (failed) problems.push(`its password did not open its database (${failed})`);
  }
  return problems;
}

async function grantProblems(c: Ctx): Promise<string[]> {
  const sql = await admin(c);
  const rows = await sql<{ owner: string; grantee: string | null; privilege: string }[]>`
    select pg_get_userbyid(d.datdba) as owner, case when a.grantee = 0 then null else pg_get_userbyid(a.grantee) end as grantee, a.privilege_type as privilege
    from pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a where d.datname = ${c.name}`;
  const problems = [];
  if (rows[0] && rows[0].owner !== c.name) problems.push(`it was owned by ${rows[0].owner}`);
  const connect = rows.filter((r) => r.privilege === 'CONNECT');
  if (connect.some((r) => r.grantee === null)) problems.push('PUBLIC could connect');
  const others = [...new Set(connect.map((r) => r.grantee).filter((g): g is string => g !== null && g !== c.name && g !== dumpRoleName(c.name)))];
  if (others.length) problems.push(`${others.join(', ')} could connect`);
  if (!connect.some((r) => r.grantee === c.name)) problems.push('the role could not connect');
  return problems;
}

const steps: Step<Ctx>[] = [
  {
    // Over its database's size ceiling its role may not log in, on purpose (db-ceiling.ts):
    // nothing here to repair until the ceiling is raised.
    name: 'ceiling',
    done: (c) => c.reg.tenants[c.name]?.suspended?.by !== 'ceiling',
    run(c) {
      throw new SiloError(`its database is over its size ceiling and refused on purpose (see silo status): raise it with silo tenant create ${c.name} --db-size <size>, then repair`);
    },
  },
  {
    name: 'registry',
    done: (c) => c.reg.tenants[c.name]?.state === 'ready',
    async run(c) {
      const t = c.reg.tenants[c.name]!;
      if (t.state === 'removing') throw new SiloError(`tenant "${c.name}" is half removed: finish it with silo tenant remove ${c.name} --yes`);
      await createTenant(c.cfg, c.name);
      c.reg = readRegistry(c.paths.registry);
      c.notes.set('registry', 'its creation had not finished: completed');
    },
  },
  {
    name: 'password-file',
    // Its mode (and under root its owner, the tenant's Unix user) as passwordFileRule says.
    done: (c) => passwordFileProblem(c.cfg, c.name) === undefined,
    run(c) {
      const file = c.paths.tenantPassword(c.name);
      const rule = passwordFileRule(c.cfg, c.name);
      if (readSecret(file) === undefined) {
        writeSecret(file, generatePassword());
        c.notes.set('password-file', 'it was missing: a new password was written (the role follows)');
      } else {
        c.notes.set('password-file', `its mode was ${(statSync(file).mode & 0o777).toString(8)}: now ${rule.mode.toString(8)}`);
      }
      const user = tenantUser(c.cfg, c.name);
      chownSync(file, rule.uid, user && rule.uid === user.uid ? user.gid : (process.getgid?.() ?? 0));
      chmodSync(file, rule.mode);
    },
  },
  {
    name: 'os-user',
    done: (c) => !perTenantUsers() || (tenantUser(c.cfg, c.name) !== undefined && passwordFileProblem(c.cfg, c.name) === undefined),
    run(c) {
      const problem = tenantUser(c.cfg, c.name) ? passwordFileProblem(c.cfg, c.name) : 'its Unix user was missing';
      ensureTenantUser(c.cfg, c.name);
      handOverFiles(c.cfg, c.name);
      c.notes.set('os-user', `${problem}: fixed`);
    },
  },
  {
    name: 'role',
    done: async (c) => {
      const problems = await roleProblems(c);
      if (problems.length) c.notes.set('role', problems.join('; '));
      return problems.length === 0;
    },
    async run(c) {
      const password = readSecret(c.paths.tenantPassword(c.name))!;
      await ensureRole(await admin(c), c.name, password, { connectionLimit: connectionLimit(c.cfg), adopt: true });
    },
  },
  {
    name: 'dump-role',
    done: async (c) => {
      const problem = readSecret(c.paths.dumpPassword(c.name)) === undefined ? 'its dump role had no password file' : await dumpRoleProblem(await admin(c), c.name);
      if (problem) c.notes.set('dump-role', `${problem}: made`);
      return problem === undefined;
    },
    async run(c) {
      const file = c.paths.dumpPassword(c.name);
      if (readSecret(file) === undefined) writeSecret(file, generatePassword());
      await ensureDumpRole(await admin(c), c.name, readSecret(file)!);
    },
  },
  {
    name: 'database',
    done: async (c) => (await ownedBy(await admin(c), 'database', c.name)) === 'ours',
    async run(c) {
      const exists = (await ownedBy(await admin(c), 'database', c.name)) !== 'missing';
      await ensureDatabase(await admin(c), c.name, { adopt: true });
      c.notes.set('database', exists ? 'its silo mark was missing' : `it was missing: re-created empty (bring its data back with silo tenant restore ${c.name} --latest --yes)`);
    },
  },
  {
    name: 'connections',
    done: async (c) => (await allowsConnections(await admin(c), c.name)) === true,
    async run(c) {
      await setAllowConnections(await admin(c), c.name, true);
      c.notes.set('connections', 'it refused connections: allowed again');
    },
  },
  {
    name: 'grants',
    done: async (c) => {
      const problems = await grantProblems(c);
      if (problems.length) c.notes.set('grants', problems.join('; '));
      return problems.length === 0;
    },
    async run(c) {
      const sql = await admin(c);
      const db = ident(c.name);
      await sql.unsafe(`alter database ${db} owner to ${ident(c.name)}`);
      const rows = await sql<{ grantee: string }[]>`
        select distinct pg_get_userbyid(a.grantee) as grantee from pg_database d, aclexplode(d.datacl) a
        where d.datname = ${c.name} and a.grantee <> 0 and a.grantee <> d.datdba`;
      for (const r of rows) if (r.grantee !== dumpRoleName(c.name)) await sql.unsafe(`revoke all on database ${db} from ${ident(r.grantee)}`);
      await grantDatabase(sql, c.name, c.name);
    },
  },
  {
    name: 'catalogs',
    done: async (c) => {
      await admin(c);
      const problems = await withTenantSession(dumpCredentials(c.cfg, c.reg, c.name), (sql) => hardeningProblems(sql, c.name));
      if (problems.length) c.notes.set('catalogs', problems.join('; '));
      return problems.length === 0;
    },
    async run(c) {
      await hardenTenantDatabase(adminUrl(c.cfg, (await c.op.server(c.reg.tenants[c.name]!.server)).name), c.name, c.name);
      const left = await withTenantSession(dumpCredentials(c.cfg, c.reg, c.name), (sql) => hardeningProblems(sql, c.name));
      c.notes.set('catalogs', left.length ? `${c.notes.get('catalogs')}: the server's admin is not a superuser, so other tenants' names stay listable` : `${c.notes.get('catalogs')}: hidden`);
    },
  },
  {
    name: 'schema',
    done: async (c) => {
      const known = Math.max(0, ...(await loadAppMigrations(c.cfg, c.reg.tenants[c.name])).map((m) => m.version));
      const v = await withTenantSession(tenantCredentials(c.cfg, c.reg, c.name), schemaVersion);
      if (v !== known) c.notes.set('schema', `it was at version ${v} of ${known}`);
      return v === known;
    },
    async run(c) {
      const sql = connectAs(tenantCredentials(c.cfg, c.reg, c.name));
      try {
        await migrate(sql, await loadAppMigrations(c.cfg, c.reg.tenants[c.name]));
      } finally {
        await sql.end({ timeout: 2 });
      }
    },
  },
  {
    name: 'worker',
    // A hibernated tenant has no worker on purpose: its next request starts it (one whose
    // wake failed is started here, once the steps above fixed what made it fail).
    done: async (c) => !c.live || sleepsOnPurpose(c.cfg.home, c.name) || (await running()).get(workerApp(c.name))?.pm2_env?.status === 'online',
    async run(c) {
      await ensureWorker(c.cfg, c.reg, c.name);
      c.notes.set('worker', 'it was not running: started');
    },
  },
  {
    name: 'route',
    done: async (c) => {
      // A probe through the proxy would wake a hibernated tenant (repair --all: every one).
      if (!c.live || sleepsOnPurpose(c.cfg.home, c.name)) return true;
      const r = await probe(c.cfg.httpHost, c.cfg.httpPort, '/healthz', primaryHost(c.cfg, c.reg, c.name)).catch(() => undefined);
      const suspended = r?.status === 503 && r.body.includes('"suspended":true');
      return c.reg.tenants[c.name]!.suspended ? suspended : r?.status === 200;
    },
    async run(c) {
      await syncProxy(c.cfg, c.reg, true);
      if (!c.reg.tenants[c.name]!.suspended) await waitThroughProxy(c.cfg, c.name, primaryHost(c.cfg, c.reg, c.name));
      c.notes.set('route', 'its host did not answer through the proxy: re-rendered and reloaded');
    },
  },
];

export interface RepairResult {
  tenant: string;
  ok: boolean;
  /** the checks that ran, in order (when one failed: those before it) */
  findings: Finding[];
  /** the check whose test or fix threw */
  failedCheck?: string;
  error?: string;
}

export async function repairTenant(cfg: SiloConfig, name: string): Promise<RepairResult> {
  validateTenantName(name);
  return onTenant(cfg, name, { registryLock: true }, async (op) => {
    const c: Ctx = { cfg, name, paths: op.paths, reg: op.reg, live: await stackIsUp(), op, notes: new Map() };
    const finding = (r: StepReport): Finding => ({ check: r.step, fixed: r.acted, ...(r.acted ? { detail: c.notes.get(r.step) } : {}) });
    try {
      const reports = await runSteps('repair', steps, c);
      return { tenant: name, ok: true, findings: reports.map(finding) };
    } catch (err) {
      const failure = stepFailure(err);
      return { tenant: name, ok: false, findings: (failure?.ran ?? []).map(finding), failedCheck: failure?.step, error: (err as Error).message.split('\n')[0] };
    }
  });
}

/** Every tenant, one at a time (each holds the registry lock); a failure does not stop the others. */
export async function repairAll(cfg: SiloConfig): Promise<RepairResult[]> {
  const names = Object.keys(readRegistry(homePaths(cfg.home).registry).tenants).sort();
  // A tenant removed since the list was read is reported, and the others still repaired.
  return overTenants<RepairResult>(cfg, names, { concurrency: 1, failed: (tenant, error) => ({ tenant, ok: false, findings: [], error }) }, (name) => repairTenant(cfg, name));
}
