/**
 * The one postgres.js pool of this worker: the tenant's database, as the tenant's role.
 * Nothing else in the worker opens a connection, and nothing here can name another
 * database. postgres.js reconnects by itself after the server comes back; requests that
 * would wait on a server that never answers are cut by Fastify's handlerTimeout (app.ts).
 */
import fp from 'fastify-plugin';
import postgres, { type Sql } from 'postgres';
import { readSecretFile } from './secret-file.js';

declare module 'fastify' {
  interface FastifyInstance {
    sql: Sql;
  }
}

export const dbPlugin = fp(
  async (fastify) => {
    const { db, tenant } = fastify.config;
    const log = fastify.log.child({ component: 'db' });
    const sql = postgres({
      host: db.host,
      port: db.port,
      database: db.database,
      username: db.user,
      // Read at each new connection: rotating the file needs no restart.
      password: () => readSecretFile(db.passwordFile),
      max: db.poolMax,
      connect_timeout: db.connectTimeoutS,
      idle_timeout: db.idleTimeoutS,
      connection: {
        application_name: `silo-${tenant}`,
        statement_timeout: db.statementTimeoutMs,
        // A transaction left open by a bug must not hold its locks for ever.
        idle_in_transaction_session_timeout: Math.max(2 * db.statementTimeoutMs, 10000),
      },
      onnotice: (notice) => log.info({ severity: notice.severity, code: notice.code }, notice.message ?? 'notice'),
    });
    fastify.decorate('sql', sql);
    fastify.addHook('onClose', async () => {
      // In-flight requests have finished by now; give queries a moment, then cut.
      await sql.end({ timeout: 2 });
    });
  },
  { name: 'db', dependencies: ['config'], fastify: '5.x' },
);
