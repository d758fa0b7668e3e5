/**
 * What the platform needs from a tenant app (the bundled sample lives in src/app/; any
 * other is named by SILO_APP). The module exports an object of this shape as its default
 * export, or the same names as named exports, so a team keeps its app in its own folder.
 *
 * At registration the app can use `fastify.sql` (postgres.js, the tenant's database as
 * the tenant's role) and `fastify.tenant` (the tenant's name); registration must not
 * query the database (silo checks an app by registering it with no database behind it).
 * Bodies are validated strictly: no type coercion, no silent removal of extra properties.
 */
import type { FastifyPluginAsync, FastifyPluginCallback } from 'fastify';
import type { Sql } from 'postgres';

export interface TenantApp {
  name: string;
  plugin: FastifyPluginAsync | FastifyPluginCallback;
  /** Absolute path of the folder of numbered `.sql` migrations. */
  migrationsDir: string;
  /** Sample data for the demo tenants `silo up` creates on an empty registry (optional). */
  seed?: (sql: Sql, tenant: string) => Promise<void>;
}
