/**
 * The control plane's admin connection to a server: its superuser (or CREATEROLE +
 * CREATEDB role), in the maintenance database its URL names, never in a tenant's (a
 * tenant owns its database and can plant code there that a superuser would run: see
 * tenant-session.ts, the only way silo opens a session in a tenant database). Workers
 * never use this module (they open their own pool from their own config).
 */
import postgres, { type Sql } from 'postgres';
import { parsePgUrl, pgOptions } from '../contract/pg-connect.js';

const quiet = () => {};

export interface AdminPoolOptions {
  max?: number;
  connectTimeoutS?: number;
  applicationName?: string;
}

/**
 * The admin pool of the server at `url` (its socket folder, TLS and the refusal of
 * clear-text password requests: contract/pg-connect.ts).
 */
export function connectAdmin(url: string, opts: AdminPoolOptions = {}): Sql {
  const p = parsePgUrl(url);
  return postgres({
    ...pgOptions(p),
    database: p.database,
    username: p.user,
    password: p.password,
    max: opts.max ?? 2,
    onnotice: quiet,
    connect_timeout: opts.connectTimeoutS ?? 10,
    idle_timeout: opts.max === 1 ? 1 : 5,
    connection: { application_name: opts.applicationName ?? 'silo-control' },
  });
}

/** Does this pool answer a query? Undefined if it does, else why not. Ends the pool. */
export async function connectionProblem(sql: Sql): Promise<string | undefined> {
  try {
    await sql`select 1`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

/** Quote an identifier that has already passed the name allowlist. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quote a string literal for DDL that cannot take parameters (CREATE ROLE ... PASSWORD). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
