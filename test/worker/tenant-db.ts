/**
 * Test helper (no tests here): gives a tenant its role and database on a test Postgres
 * with plain admin SQL, migrates it as the tenant's own role, and writes the password
 * to a 0600 file, the way the control plane does. Everything is undone in teardown.
 */
import { randomBytes } from 'node:crypto';
import postgres, { type Sql } from 'postgres';
import { passwordFile as makePasswordFile } from './password-file.js';
import { app } from '../../src/app/index.js';
import { loadMigrations } from '../../src/migrate/files.js';
import { migrate } from '../../src/migrate/run.js';
import { loadConfig, type WorkerConfig } from '../../src/worker/config.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface PgServer {
  adminUrl: string;
  host: string;
  port: number;
}

export interface TestTenant {
  name: string;
  host: string;
  passwordFile: string;
  password: string;
  /** Environment for a worker process of this tenant (PORT excluded). */
  env: Record<string, string>;
  /** The validated worker config, with overrides applied to `env` first. */
  config(overrides?: Record<string, string>): WorkerConfig;
  /** Superuser connection to this tenant's database, to inspect what the worker did. */
  inspect: Sql;
}

const quiet = () => {};

export function adminSql(pg: PgServer, database = 'postgres'): Sql {
  return postgres(pg.adminUrl, { database, max: 1, onnotice: quiet, connect_timeout: 5, idle_timeout: 1 });
}

export async function provisionTenant(t: Teardown, pg: PgServer, name: string): Promise<TestTenant> {
  const password = randomBytes(16).toString('hex');
  const admin = adminSql(pg);
  try {
    await admin.unsafe(
      `create role "${name}" login password '${password}' nosuperuser nocreatedb nocreaterole`,
    );
    await admin.unsafe(`create database "${name}" owner "${name}" encoding 'UTF8' template template0`);
    await admin.unsafe(`revoke all on database "${name}" from public`);
    await admin.unsafe(`grant connect, temporary on database "${name}" to "${name}"`);
    // Tenants must not reach the maintenance database either.
    await admin.unsafe(`revoke connect on database postgres from public`);
  } finally {
    await admin.end();
  }

  const asTenant = postgres({
    host: pg.host,
    port: pg.port,
    database: name,
    username: name,
    password,
    max: 1,
    onnotice: quiet,
  });
  try {
    await migrate(asTenant, loadMigrations(app.migrationsDir));
  } finally {
    await asTenant.end();
  }

  const passwordFile = makePasswordFile(t, password, `silo-secret-${name}-`);

  const inspect = adminSql(pg, name);
  t.teardown(() => inspect.end({ timeout: 1 }));

  const env = {
    TENANT: name,
    TENANT_HOSTS: `${name}.localhost`,
    DB_HOST: pg.host,
    DB_PORT: String(pg.port),
    DB_NAME: name,
    DB_USER: name,
    DB_PASSWORD_FILE: passwordFile,
    LOG_LEVEL: 'silent',
  };
  return {
    name,
    host: `${name}.localhost`,
    password,
    passwordFile,
    env,
    config: (overrides = {}) => loadConfig({ PORT: '0', ...env, ...overrides }),
    inspect,
  };
}

/** Row counts of every app table, to prove a rejected request changed nothing. */
export async function tableCounts(sql: Sql): Promise<Record<string, number>> {
  const [row] = await sql<{ polls: number; choices: number; votes: number; total: number }[]>`
    select (select count(*)::int from polls) as polls,
           (select count(*)::int from choices) as choices,
           (select count(*)::int from votes) as votes,
           (select coalesce(sum(votes), 0)::int from choices) as total`;
  return { ...row! };
}
