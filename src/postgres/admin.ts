/**
 * Connections the control plane opens: as a server's admin, or as one tenant's role.
 * Workers never use this module (they open their own pool from their own config).
 */
import postgres, { type Sql } from 'postgres';

const quiet = () => {};

export function connectAdmin(url: string, database?: string): Sql {
  return postgres(url, {
    max: 2,
    database,
    onnotice: quiet,
    connect_timeout: 10,
    idle_timeout: 5,
    connection: { application_name: 'silo-control' },
  });
}

export interface TenantCredentials {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

export function connectAs(c: TenantCredentials): Sql {
  return postgres({
    host: c.host,
    port: c.port,
    database: c.database,
    username: c.user,
    password: c.password,
    max: 1,
    onnotice: quiet,
    connect_timeout: 10,
    idle_timeout: 5,
    connection: { application_name: 'silo-control' },
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
