/**
 * The contract every part of a tenant keeps (its password file, Unix user, CPU group, role,
 * dump role, database, grants, hidden catalogs, schema, worker, route): one module per part,
 * listed in order in parts.ts. The operations are lists of these (as tenancy v4 builds its
 * pipelines from jobs): `tenant create` ensures them in order, `tenant repair` checks each
 * and ensures what a check finds wrong, `tenant remove` removes them in reverse order, and
 * `up` ensures the host and stack parts across every tenant.
 *
 * - `check` says what is wrong, in a few words ("its connection limit was 3"), or nothing
 *   when the part is as it should be. It changes nothing.
 * - `ensure` makes it so. Idempotent: a crash can land anywhere inside it, and it runs
 *   again. It may say what it did, in words that follow the check's ("it was not running"
 *   and then "started": repair prints "fixed worker: it was not running: started").
 * - `remove` takes it away. Idempotent: nothing to do when it is absent. A part without
 *   one goes with the part it lives in (the grants, catalogs and schema go with the database).
 * - `where` says when each operation looks at it: `host` parts are files and kernel objects
 *   on this machine (cheap to check, re-checked by every create and up); `database` parts
 *   are made once by create while the tenant is provisioning (repair checks them); `stack`
 *   parts are processes and routes, acted on only while the stack is up.
 */
import type { SiloConfig } from '../../common/config.js';
import type { HomePaths } from '../../common/paths.js';
import type { Registry, TenantEntry } from '../../registry/registry.js';
import type { OpenServer } from '../../servers/servers.js';
import type { Workers } from '../../runtime/runtime.js';

/** What a part is given: the operation's view of one tenant, its locks held. */
export interface PartContext {
  readonly cfg: SiloConfig;
  readonly name: string;
  readonly paths: HomePaths;
  /** the registry as the operation holds it (a part that changes the entry changes it here) */
  reg: Registry;
  /** the stack is up: `stack` parts act only then */
  readonly live: boolean;
  /** its database server, opened once for the operation */
  server(): Promise<OpenServer>;
  /** create: settings of a ready tenant changed, so its running worker restarts onto them */
  readonly restart?: boolean;
  /** the workers the runtime runs, when the caller listed them already (`up`: one list for every tenant) */
  readonly workers?: Workers;
}

export interface TenantPart {
  /** its name in every operation's list and in what they print (`fixed grants: ...`) */
  readonly name: string;
  readonly where: 'host' | 'database' | 'stack';
  check(t: PartContext): Promise<string | undefined> | string | undefined;
  ensure(t: PartContext): Promise<string | void> | string | void;
  remove?(t: PartContext): Promise<void> | void;
}

/** The tenant's entry (the operation refused a tenant the registry does not hold). */
export function entryOf(t: PartContext): TenantEntry {
  const e = t.reg.tenants[t.name];
  if (!e) throw new Error(`tenant "${t.name}" is not in the registry`);
  return e;
}

/** The admin connection to its database server. */
export async function admin(t: PartContext): Promise<OpenServer['admin']> {
  return (await t.server()).admin;
}
