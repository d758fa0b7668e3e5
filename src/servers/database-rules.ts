/**
 * The database side of a tenant's isolation, checked and brought up to date in one
 * call: its dump role (and that role's password file), which may connect to its
 * database, and inside the database the revokes that hide other tenants' names plus the
 * catalogs granted to the dump role (postgres/tenant-session.ts). Create builds these
 * in its own steps; repair, `silo up` (a state made by an older silo) and every dump
 * (backup, move) call this, so an old tenant gets them without a manual step.
 *
 * The check runs as the dump role in a pinned session; only what it finds missing is
 * fixed, the inside-the-database part by the one pinned superuser session.
 */
import type { Sql } from 'postgres';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import type { Registry } from '../registry/registry.js';
import { generatePassword, readSecret, writeSecret } from '../common/secrets.js';
import { adminUrl, type OpenServer } from './servers.js';
import { dumpCredentials } from './tenant-credentials.js';
import { dumpRoleProblem, ensureDumpRole, grantDatabase } from '../postgres/tenant-ddl.js';
import { dumpRoleName, hardenTenantDatabase, hardeningProblems, withTenantSession } from '../postgres/tenant-session.js';

/** Bump when a rule is added here: `silo up` then brings every tenant up to it once. */
export const DATABASE_RULES = 1;

async function dumpRoleConnects(admin: Sql, tenant: string, database: string): Promise<boolean> {
  const [r] = await admin<{ ok: boolean }[]>`select has_database_privilege(${dumpRoleName(tenant)}, ${database}, 'connect') as ok`;
  return r?.ok === true;
}

/**
 * Bring `name`'s database (`database`, default its own: a side database of a restore or
 * move gets the same) on `server` up to the rules; returns what was fixed, or []. On a
 * server whose admin is not a superuser the revokes cannot happen: that is reported.
 */
export async function ensureDatabaseRules(cfg: SiloConfig, reg: Registry, server: OpenServer, name: string, database = name): Promise<string[]> {
  const fixed: string[] = [];
  const passwordFile = homePaths(cfg.home).dumpPassword(name);
  if (readSecret(passwordFile) === undefined) {
    writeSecret(passwordFile, generatePassword());
    fixed.push('its dump role had no password file: written');
  }
  const roleProblem = await dumpRoleProblem(server.admin, name);
  // Re-aligned when anything was off (its password may just have been written).
  if (roleProblem || fixed.length) {
    await ensureDumpRole(server.admin, name, readSecret(passwordFile)!);
    if (roleProblem) fixed.push(`${roleProblem}: made`);
  }
  if (!(await dumpRoleConnects(server.admin, name, database))) {
    await grantDatabase(server.admin, database, name);
    fixed.push('its dump role could not connect: its role may connect again');
  }
  const login = { ...dumpCredentials(cfg, reg, name, server.name), database };
  const problems = await withTenantSession(login, (sql) => hardeningProblems(sql, name));
  if (problems.length) {
    await hardenTenantDatabase(adminUrl(cfg, server.name), database, name);
    const left = await withTenantSession(login, (sql) => hardeningProblems(sql, name));
    if (left.length) fixed.push(`${problems.join('; ')}: the server's admin is not a superuser, so ${left.join('; ')} still`);
    else fixed.push(`${problems.join('; ')}: hidden`);
  }
  return fixed;
}
