/**
 * The one postgres.js pool of this worker: the tenant's database, as the tenant's role.
 * Nothing else in the worker opens a connection, and nothing here can name another
 * database. postgres.js reconnects by itself after the server comes back; requests that
 * would wait on a server that never answers are cut by REQUEST_TIMEOUT_MS (deadline.ts).
 *
 * postgres.js 4.x, not 3.4.9: 3.4.9's pool aged (porsager/postgres#747). Its queues
 * (src/queue.js) only reset when a shift() empties them, and the `busy` queue never runs
 * empty while more queries than connections are in flight, so it kept one dead slot per
 * query; src/index.js's move(), run for every query, does `queue.remove(c)`, an indexOf
 * over all those slots. CPU per query grew with the queries served (36 -> 118 us in 25 s
 * of a bare loop, a worker's 87 -> 234 us per request in two minutes). 4.x's pool
 * compacts its queues (src/pool.js, Waiting). See test/worker/pool-aging.test.ts.
 *
 * `fastify.sql` is a stable handle over a pool that can be replaced (`renewSqlPool`):
 * postgres.js 3.4.9 had a defect (porsager/postgres#1154, #1208, fix proposed in #1168)
 * where a transaction whose server connection dies sends its ROLLBACK on the closed
 * connection from a setImmediate: `socket.write` on null, an uncaught TypeError that
 * would take the whole process down, and the connection object is left unable to flush
 * any later write. start.ts recognises exactly that error, keeps the process, and calls
 * `renewSqlPool`: later queries go to a fresh pool, the old one drains and ends.
 */
import fp from 'fastify-plugin';
import postgres, { type Sql } from 'postgres';
import { readSecretFile } from './secret-file.js';
import { pgOptions } from '../contract/pg-connect.js';
import { patientConnect } from './patient-connect.js';

/**
 * How long a refused connect is tried again before the refusal fails the queries waiting:
 * a restart within a second is waited out, and a refused database is still a 503 within
 * a second (the back-off below keeps the same promise).
 */
const PATIENCE_MS = 1000;

declare module 'fastify' {
  interface FastifyInstance {
    sql: Sql;
    /** Replace the pool behind `sql` (the old one finishes what it is doing, then ends). */
    renewSqlPool(reason: string): void;
  }
}

/** The postgres.js 3.4.9 "write on a closed connection" crash, and nothing else. */
export function isDriverWriteAfterClose(err: unknown): boolean {
  if (!(err instanceof TypeError) || !/^Cannot read properties of null \(reading 'write'\)$/.test(err.message)) return false;
  const top = (err.stack ?? '').split('\n')[1] ?? '';
  return /\bnextWrite\b/.test(top) && /[/\\]postgres[/\\](src|cjs[/\\]src)[/\\]connection\.js:/.test(top);
}

export const dbPlugin = fp(
  async (fastify) => {
    const { db, tenant } = fastify.config;
    const log = fastify.log.child({ component: 'db' });
    const open = (): Sql =>
      postgres({
        // Its socket folder or host, TLS, and no password to a server that asks for it
        // in clear text (contract/pg-connect.ts).
        ...pgOptions(db),
        database: db.database,
        username: db.user,
        // Read at each new connection: rotating the file needs no restart.
        password: () => readSecretFile(db.passwordFile),
        max: db.poolMax,
        connect_timeout: db.connectTimeoutS,
        // A refused connect is tried again for a while (a server restarting), inside the
        // connect timeout, whose clock already runs (patient-connect.ts).
        socket: patientConnect(Math.max(0, Math.min(PATIENCE_MS, db.connectTimeoutS * 1000 - 1000))),
        // An idle tenant gives its connections back (the server's budget is for busy ones).
        idle_timeout: db.idleTimeoutS,
        max_lifetime: db.maxLifetimeS ? () => db.maxLifetimeS * (0.75 + Math.random() / 2) : null,
        // After a failed connection a query waits for the driver's reconnect back-off
        // before it even tries: by default up to 20 s, so during an outage every request
        // ran into REQUEST_TIMEOUT_MS, and requests kept failing for up to 20 s after the
        // server was back. Capped at 1 s: a refused database is a 503 within a second,
        // and the pool is back within a second of the server.
        backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
        connection: {
          application_name: `silo-${tenant}`,
          statement_timeout: db.statementTimeoutMs,
          // A transaction left open by a bug must not hold its locks for ever.
          idle_in_transaction_session_timeout: Math.max(2 * db.statementTimeoutMs, 10000),
        },
        onnotice: (notice) => log.info({ severity: notice.severity, code: notice.code }, notice.message ?? 'notice'),
      });

    let pool = open();
    let closing = false;
    // Calls and properties go to whichever pool is current (postgres.js's functions are
    // closures, so no `this` needs rebinding). The app keeps this one handle for ever.
    const sql = new Proxy(pool, {
      apply: (_target, thisArg, args) => Reflect.apply(pool, thisArg, args),
      get: (_target, prop) => Reflect.get(pool, prop),
    });
    fastify.decorate('sql', sql);
    fastify.decorate('renewSqlPool', (reason: string) => {
      if (closing) return;
      const old = pool;
      pool = open();
      log.warn({ reason }, 'database pool renewed');
      old.end({ timeout: 2 }).catch(() => undefined);
    });
    fastify.addHook('onClose', async () => {
      closing = true;
      // In-flight requests have finished by now; give queries a moment, then cut.
      await pool.end({ timeout: 2 });
    });
  },
  { name: 'db', dependencies: ['config'], fastify: '5.x' },
);
