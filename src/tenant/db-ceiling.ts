/**
 * A tenant database's size ceiling. PostgreSQL has no quota, so the ceilings watcher
 * (isolation/ceilings-main.ts) measures every tenant database (servers/database-use.ts:
 * from each server's maintenance database as its admin, never inside a database a tenant
 * controls) and, for one over its ceiling:
 *   block-role   its role may not log in (NOLOGIN: a role cannot give itself LOGIN back,
 *                unlike a `default_transaction_read_only` its session could SET off)
 *   disconnect   its open sessions end (its worker, anything its code kept open)
 *   suspend      the proxy answers its hosts 503 saying why (`by: 'ceiling'`)
 * and once it is under again (an operator raised its ceiling with `silo tenant create
 * <name> --db-size <size>`, or cut its data as admin): `allow-role`, then `resume`.
 * A suspension an operator made is left alone (suspendTenant keeps it).
 */
import type { Sql } from 'postgres';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { readRegistry } from '../registry/registry.js';
import { adminUrl } from '../servers/servers.js';
import { databaseUse } from '../servers/database-use.js';
import { connectAdmin, ident } from '../postgres/admin.js';
import { tenantCeilings } from '../isolation/limits.js';
import { resumeTenant, suspendTenant } from './suspend.js';
import { runSteps, type Step } from '../common/steps.js';

const mb = (n: number) => `${Math.round(n / 1048576)} MB`;

interface Ctx {
  cfg: SiloConfig;
  name: string;
  server: string;
  over: boolean;
  message: string;
}

async function onServer<T>(c: Ctx, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = connectAdmin(adminUrl(c.cfg, c.server));
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 2 }).catch(() => undefined);
  }
}

const overSteps: Step<Ctx>[] = [
  { name: 'block-role', run: (c) => onServer(c, (sql) => sql.unsafe(`alter role ${ident(c.name)} nologin`)) },
  {
    name: 'disconnect',
    run: (c) => onServer(c, (sql) => sql`select pg_catalog.pg_terminate_backend(pid) from pg_catalog.pg_stat_activity where usename = ${c.name} and pid <> pg_catalog.pg_backend_pid()`),
  },
  { name: 'suspend', run: (c) => suspendTenant(c.cfg, c.name, { by: 'ceiling', message: c.message }).then(() => undefined) },
];

// The role first: it needs no lock, and a command that raised the ceiling may hold the
// registry lock while it waits for the worker to be ready (which needs the role).
const underSteps: Step<Ctx>[] = [
  { name: 'allow-role', run: (c) => onServer(c, (sql) => sql.unsafe(`alter role ${ident(c.name)} login`)) },
  { name: 'resume', run: (c) => resumeTenant(c.cfg, c.name, 'ceiling').then(() => undefined) },
];

export interface CeilingChange {
  tenant: string;
  action: 'refused' | 'allowed';
  bytes: number;
  ceiling: number;
}

/** Measure every tenant database; refuse the ones over their ceiling, allow the ones back under. */
export async function enforceDatabaseCeilings(cfg: SiloConfig): Promise<CeilingChange[]> {
  const reg = readRegistry(homePaths(cfg.home).registry);
  const use = await databaseUse(cfg, reg);
  const changes: CeilingChange[] = [];
  for (const [name, u] of use) {
    const t = reg.tenants[name]!;
    const ceiling = tenantCeilings(cfg, t).dbSize;
    const over = ceiling > 0 && u.bytes > ceiling;
    // Over: until its role is blocked, nobody holds a session and the proxy refuses it.
    // Under: a role silo blocked (silo's roles otherwise always log in) is allowed again.
    const act = over ? u.canLogin || u.connections > 0 || !t.suspended : !u.canLogin || t.suspended?.by === 'ceiling';
    if (!act) continue;
    const message = `${name}'s database is over its size ceiling (${mb(u.bytes)} of ${mb(ceiling)}): it is suspended until an operator raises the ceiling or cuts its data.`;
    const c: Ctx = { cfg, name, server: t.server, over, message };
    if (over) {
      await runSteps('db-ceiling', overSteps, c);
      changes.push({ tenant: name, action: 'refused', bytes: u.bytes, ceiling });
    } else {
      await runSteps('db-ceiling', underSteps, c);
      changes.push({ tenant: name, action: 'allowed', bytes: u.bytes, ceiling });
    }
  }
  return changes;
}
