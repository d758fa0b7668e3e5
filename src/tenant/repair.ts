/**
 * `silo tenant repair <name> | --all`: re-check everything creation set up, redo what is
 * missing or wrong, and say what it found. Each step's `done` is the check and its `run`
 * the fix, so the runner's report is the list of what was fixed. Runs under the tenant's
 * lock and the registry lock, like create. A check that throws stops the repair, which
 * reports it by name with the checks that ran before it.
 *
 *   ceiling         not refused for its database's size (then it stops: raise the ceiling)
 *   registry        a ready entry (an unfinished creation is completed by create)
 *   then each part of the tenant, in the order of stack/parts/parts.ts: its check,
 *   and its ensure when the check finds it wrong (what each checks: its module there)
 *   password-file   present, its mode and owner (a lost one is replaced; the role follows)
 *   os-user         under root: its own Unix user, owning its password file (0400)
 *   cpu-group       where cgroups exist: its groups and temporary folder as its limits say
 *   role            exists, silo's, login without privileges, its connection limit,
 *                   and the password file's password opens its database
 *   dump-role       its dump role (pg_dump logs in as it) and that role's password file
 *   database        exists (re-created empty and migrated if it was lost: restore it)
 *   connections     the database takes connections (a crashed swap may close it)
 *   grants          owned by the role; CONNECT for the role only, never PUBLIC or others
 *   catalogs        in its database, other tenants' names hidden from PUBLIC
 *   schema          migrated to the app's latest version
 *   worker          if the stack is up: online under PM2
 *   route           if the stack is up: its host answers through the proxy (or shows
 *                   the suspended page, if it is suspended)
 */
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { validateTenantName } from '../common/names.js';
import { readRegistry } from '../registry/registry.js';
import { createTenant } from './create.js';
import { stackIsUp } from '../stack/live.js';
import { TENANT_PARTS, type PartContext, type TenantPart } from '../stack/parts/parts.js';
import { runSteps, stepFailure, type Step, type StepReport } from '../common/steps.js';
import { onTenant, type TenantOperation } from './operation.js';
import { overTenants } from '../servers/fleet.js';
import { SiloError } from '../common/errors.js';

export interface Finding {
  check: string;
  fixed: boolean;
  /** what was wrong, when it was fixed */
  detail?: string;
}

interface Ctx extends PartContext {
  op: TenantOperation;
  notes: Map<string, string>;
}

/**
 * Repair's step for a part (stack/parts/part.ts): its check is the step's `done` (what it
 * finds wrong is noted), its ensure the fix (what it did, when it says, follows the note).
 */
function checkThenEnsure(part: TenantPart): Step<Ctx> {
  return {
    name: part.name,
    async done(c) {
      const problem = await part.check(c);
      if (problem) c.notes.set(part.name, problem);
      return problem === undefined;
    },
    async run(c) {
      const did = await part.ensure(c);
      const found = c.notes.get(part.name);
      if (did) c.notes.set(part.name, found ? `${found}: ${did}` : did);
    },
  };
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
  ...TENANT_PARTS.map(checkThenEnsure),
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
  return onTenant(cfg, name, { what: 'tenant.repair', registryLock: true }, async (op) => {
    const c: Ctx = { cfg, name, paths: op.paths, reg: op.reg, live: await stackIsUp(), op, notes: new Map(), server: () => op.server(c.reg.tenants[name]!.server) };
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
