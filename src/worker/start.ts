/**
 * The process PM2 runs, one per tenant (server.ts, or the bundle's loader: see
 * scripts/bundle-worker.js; in fork mode and without an IPC channel: see
 * src/isolation/worker-launch.ts). Process concerns only: read the
 * configuration, build the worker, listen on its Unix socket (listen.ts), and close
 * gracefully on SIGINT/SIGTERM (stop taking connections, finish in-flight requests,
 * close the pool) within SHUTDOWN_GRACE_MS. Any failure to start is one line on stderr and a non-zero exit (78
 * for an app that cannot load or register, which PM2 is told not to restart).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import closeWithGrace from 'close-with-grace';
import { buildWorker } from './app.js';
import { loadApp } from '../apps/load-app.js';
import { APP_ERROR_EXIT } from '../contract/worker.js';
import { ConfigError, loadConfig, type WorkerConfig } from './config.js';
import { isDriverWriteAfterClose } from './db.js';
import { listenOnSocket, type SocketListener } from './listen.js';

/**
 * After the socket is unlinked at shutdown, how long the worker keeps accepting what was
 * already queued on it before it stops listening (a connection still queued when a
 * listening socket closes is reset, and the proxy could not tell it was never served).
 */
const ACCEPT_QUEUED_MS = 300;

function fail(message: string, code = 1): never {
  process.stderr.write(`silo worker: ${message.replace(/\s+/g, ' ').trim()}\n`);
  process.exit(code);
}

/** Milliseconds since this process began, rounded to 0.1 ms (a wake's breakdown, bench/lib/wake-phases.mjs). */
const sinceStart = (at = performance.now()) => Math.round(at * 10) / 10;

/**
 * Start the worker. `codeCache`: whether the bundle's loader compiled it from the code
 * cache the build made (shown in the `started` line: a wake's breakdown).
 */
export async function startWorker(codeCache?: string): Promise<void> {
  return main(codeCache).catch((err: Error) => fail(`cannot start: ${err.message}`));
}

async function main(codeCache?: string): Promise<void> {
  // Every static import has been evaluated by now: the rest of a start is ours.
  const loadedAt = performance.now();
  let config: WorkerConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(`invalid configuration: ${err.message}`);
    throw err;
  }

  // A broken app exits with APP_ERROR_EXIT, which PM2 does not restart (no crash loop).
  let fastify: ReturnType<typeof buildWorker>;
  let registeredAt = 0;
  try {
    fastify = buildWorker(config, { app: await loadApp(config.appModule) });
    await fastify.ready();
    registeredAt = performance.now();
  } catch (err) {
    fail(`the tenant app cannot start: ${(err as Error).message}`, APP_ERROR_EXIT);
  }

  let listener: SocketListener | undefined;
  const close = async ({ signal, err }: { signal?: string; err?: Error }) => {
    if (err) fastify.log.error({ err }, 'closing after an unexpected error');
    else fastify.log.info({ signal }, 'closing');
    if (listener) {
      listener.release();
      fastify.drain();
      await new Promise((r) => setTimeout(r, ACCEPT_QUEUED_MS));
    }
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

  // Connect to the database and check the schema while the socket opens (health.ts).
  fastify.checkReadinessEarly();
  const where = 'socket' in config.listen ? config.listen.socket : `${config.listen.host}:${config.listen.port}`;
  try {
    if ('socket' in config.listen) listener = await listenOnSocket(fastify, config.listen.socket);
    else await fastify.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    fail(`cannot start on ${where}: ${(err as Error).message}`);
  }
  // Where this start's time went, in ms since the process began (`at`, epoch ms):
  // node's own start, loading the modules, building the app, listening; and the CPU the
  // process had used by then (ms).
  const cpu = process.cpuUsage();
  fastify.log.info({ boot: { ...(codeCache ? { codeCache } : {}), cpu: Math.round((cpu.user + cpu.system) / 100) / 10, at: Math.round(performance.timeOrigin), node: sinceStart(performance.nodeTiming.bootstrapComplete), loaded: sinceStart(loadedAt), registered: sinceStart(registeredAt), listening: sinceStart() } }, 'started');
  // Outside silo (a worker run by hand under PM2 with an IPC channel), PM2's wait_ready.
  process.send?.('ready');
}

/**
 * What the build runs once, in the bundle, before it writes the bundle's code cache
 * (scripts/bundle-worker.js): the start of a worker for the bundled sample app, up to its
 * first answers, without a database nor a socket, so that every function a start and a
 * first request run is compiled and goes into the cache.
 */
export async function warmUp(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'silo-warm-up-'));
  try {
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 'unused', { mode: 0o600 });
    const config = loadConfig({ TENANT: 'warmup', PORT: '1', DB_PASSWORD_FILE: passwordFile, LOG_LEVEL: 'silent' });
    const fastify = buildWorker(config, { app: await loadApp(undefined) });
    await fastify.ready();
    for (const url of ['/healthz', '/api/tenant', '/no-such-page']) await fastify.inject({ url, headers: { host: 'warmup.localhost' } });
    await fastify.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
