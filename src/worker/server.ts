/**
 * The process PM2 runs, one per tenant (`node dist/worker/server.js`). Process concerns
 * only: read the configuration, build the worker, listen, tell PM2 we are ready, and
 * close gracefully on SIGINT/SIGTERM (finish in-flight requests, close the pool) within
 * SHUTDOWN_GRACE_MS. Any failure to start is one line on stderr and a non-zero exit (78
 * for an app that cannot load or register, which PM2 is told not to restart).
 */
import closeWithGrace from 'close-with-grace';
import { buildWorker } from './app.js';
import { loadApp } from '../apps/load-app.js';
import { APP_ERROR_EXIT } from '../contract/worker.js';
import { ConfigError, loadConfig, type WorkerConfig } from './config.js';
import { isDriverWriteAfterClose } from './db.js';

function fail(message: string, code = 1): never {
  process.stderr.write(`silo worker: ${message.replace(/\s+/g, ' ').trim()}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let config: WorkerConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(`invalid configuration: ${err.message}`);
    throw err;
  }

  // A broken app exits with APP_ERROR_EXIT, which PM2 does not restart (no crash loop).
  let fastify: ReturnType<typeof buildWorker>;
  try {
    fastify = buildWorker(config, { app: await loadApp(config.appModule) });
    await fastify.ready();
  } catch (err) {
    fail(`the tenant app cannot start: ${(err as Error).message}`, APP_ERROR_EXIT);
  }

  const close = async ({ signal, err }: { signal?: string; err?: Error }) => {
    if (err) fastify.log.error({ err }, 'closing after an unexpected error');
    else fastify.log.info({ signal }, 'closing');
    await fastify.close();
  };
  closeWithGrace(
    {
      delay: config.shutdownGraceMs,
      logger: { error: (msg: unknown) => fastify.log.error(msg) },
      skip: ['uncaughtException'],
    },
    close,
  );
  // An uncaught exception closes the worker gracefully and exits 1 (PM2 restarts it),
  // except the database driver's known write-on-a-closed-connection defect (db.ts):
  // that connection is already gone and its query already failed, so the worker keeps
  // serving on a fresh pool instead of dropping every request in flight.
  let failing = false;
  process.on('uncaughtException', (err) => {
    if (isDriverWriteAfterClose(err)) {
      fastify.log.warn({ err: { message: err.message } }, 'database driver wrote to a closed connection');
      fastify.renewSqlPool('driver wrote to a closed connection');
      return;
    }
    if (failing) {
      fastify.log.error({ err }, 'second error while closing, exiting');
      process.exit(1);
    }
    failing = true;
    setTimeout(() => process.exit(1), config.shutdownGraceMs).unref();
    close({ err }).finally(() => process.exit(1));
  });

  try {
    await fastify.listen({ host: config.host, port: config.port });
  } catch (err) {
    fail(`cannot start on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  process.send?.('ready');
}

main().catch((err: Error) => fail(`cannot start: ${err.message}`));
