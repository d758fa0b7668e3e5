/**
 * Applies migrations to one database. Each migration runs in its own transaction that
 * first takes a transaction-scoped advisory lock, so two runners racing on the same
 * database (two `silo migrate`, or migrate during create) apply each file exactly once:
 * the loser waits, then sees the version already recorded.
 *
 * Why not postgres-shift or ley: postgres-shift takes no lock (two racing runs both
 * apply a file) and has no "what is pending" query, which readiness needs; ley drives
 * its own connections from a config file, while we must migrate through the tenant's
 * own role on a connection we already hold. The whole runner is this file.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { Migration } from './files.js';
import { pendingMigrations } from './pending.js';

// Arbitrary constant: identifies "silo migrations" among advisory locks in pg_locks.
const LOCK_KEY = 0x5110;

/**
 * For sessions of the tenant's own role (its migrations, its worker's readiness): the
 * control plane reads a version elsewhere with `schemaVersion` (postgres/tenant-session.ts),
 * which runs nothing the tenant made.
 */
export async function appliedVersion(sql: Sql | TransactionSql): Promise<number> {
  // Two statements: a query naming a missing table fails at parse time, whatever guards it.
  const [exists] = await sql<{ found: boolean }[]>`select to_regclass('public.silo_migrations') is not null as found`;
  if (!exists?.found) return 0;
  const [row] = await sql<{ version: number }[]>`select coalesce(max(version), 0)::int as version from public.silo_migrations`;
  return row?.version ?? 0;
}

export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
}

export async function migrate(sql: Sql, available: Migration[]): Promise<MigrateResult> {
  const from = await appliedVersion(sql);
  const applied: number[] = [];
  for (;;) {
    const done = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
      await tx`create table if not exists public.silo_migrations (
        version integer primary key,
        name text not null,
        applied_at timestamptz not null default now())`;
      const [next] = pendingMigrations(available, await appliedVersion(tx));
      if (!next) return true;
      await tx.unsafe(next.sql);
      await tx`insert into public.silo_migrations (version, name) values (${next.version}, ${next.name})`;
      applied.push(next.version);
      return false;
    });
    if (done) break;
  }
  return { from, to: await appliedVersion(sql), applied };
}
