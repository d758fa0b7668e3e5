/**
 * The process PM2 runs, one per tenant (`node dist/worker/server.js`). Process concerns
 * only: read the configuration, build the worker, listen, tell PM2 we are ready, and
 * close gracefully on SIGINT/SIGTERM (finish in-flight requests, close the pool) within
 * SHUTDOWN_GRACE_MS. Any failure to start is one line on stderr and exit code 1.
 */
import closeWithGrace from 'close-with-grace';
import { app } from '../app/index.js';
import { buildWorker } from './app.js';
import { ConfigError, loadConfig, type WorkerConfig } from './config.js';

function fail(message: string): never {
  process.stderr.write(`silo worker: ${message.replace(/\s+/g, ' ').trim()}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: WorkerConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(`invalid configuration: ${err.message}`);
    throw err;
  }

  const fastify = buildWorker(config, { app });

  closeWithGrace(
    {
      delay: config.shutdownGraceMs,
      logger: { error: (msg: unknown) => fastify.log.error(msg) },
    },
    async ({ signal, err }) => {
      if (err) fastify.log.error({ err }, 'closing after an unexpected error');
      else fastify.log.info({ signal }, 'closing');
      await fastify.close();
    },
  );

  try {
    await fastify.listen({ host: config.host, port: config.port });
  } catch (err) {
    fail(`cannot start on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  process.send?.('ready');
}

main().catch((err: Error) => fail(`cannot start: ${err.message}`));
