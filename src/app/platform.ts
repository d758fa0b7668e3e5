/**
 * What the platform (the silo worker) gives this app, as type declarations only: the app
 * imports nothing from the platform, so this folder can be swapped for another app.
 */
import type { Sql } from 'postgres';

declare module 'fastify' {
  interface FastifyInstance {
    /** postgres.js pool: this tenant's database, as this tenant's role. */
    sql: Sql;
    /** The tenant this process serves. */
    tenant: string;
  }
}

export {};
