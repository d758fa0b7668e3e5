/**
 * What the platform needs from a tenant app (the sample lives in src/app/). The worker
 * imports an app only through its index, which exports an object of this shape, so a
 * user can swap the app folder without touching the platform.
 *
 * At registration the app can use `fastify.sql` (postgres.js, the tenant's database as
 * the tenant's role) and `fastify.tenant` (the tenant's name). Bodies are validated
 * strictly: no type coercion, no silent removal of extra properties.
 */
import type { FastifyPluginAsync, FastifyPluginCallback } from 'fastify';

export interface TenantApp {
  name: string;
  plugin: FastifyPluginAsync | FastifyPluginCallback;
  /** Absolute path of the folder of numbered `.sql` migrations. */
  migrationsDir: string;
}
