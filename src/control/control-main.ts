/**
 * The control API as PM2 runs it (app `control`, started by `silo up` with SILO_CONTROL=on):
 * its settings from the registry at $SILO_HOME like any silo command, jobs left unfinished
 * by a previous process run again, then the API on <run>/control.sock, bound under a
 * temporary name, made 0600 (the user running silo: root, or the operator), and renamed
 * into place, so nobody else can connect at any moment. Bearer tokens are still required.
 */
import { createServer, type Server } from 'node:http';
import { loadStackConfig } from '../registry/settings.js';
import { readRegistry } from '../registry/registry.js';
import { homePaths } from '../common/paths.js';
import { runPaths } from '../common/run-dir.js';
import { readSecret } from '../common/secrets.js';
import { failAs, jsonLog as log, trimEnvironment } from '../common/stack-process.js';
import { bindUnixSocket, forProxy, serverListen } from '../common/unix-socket.js';
import { ensureRunDir, proxyUser } from '../isolation/run-dirs.js';
import { EXTERNAL_DEFAULT } from '../servers/servers.js';
import { disconnect } from '../pm2/pm2.js';
import { JobStore } from './jobs.js';
import { OPERATIONS, fleetFailure } from './operations.js';
import { buildControlApi } from './api.js';
import { controlExtensions } from './extensions.js';
import { mountExtras } from './mounts.js';

/** Kept in the environment besides what PM2 needs (trimEnvironment): the test-only hold hook, read while operations run. */
const ALSO_KEEP = ['SILO_TEST_HOLD_AT', 'SILO_TEST_HOLD_FILE'];

const fail: (message: string) => never = failAs('control');

async function main(): Promise<void> {
  // PM2 runs its apps with umask 077; the operations here are the CLI's, written for a
  // shell's 022 (every secret is written with its own mode): under 077 a new tenant's
  // folders and files would be closed to its own worker's user and to the proxy.
  process.umask(0o022);
  let cfg = loadStackConfig(process.env);
  // An external default server's admin URL is a secret: read from its file, never the env.
  const reg = readRegistry(homePaths(cfg.home).registry);
  if (reg.servers[EXTERNAL_DEFAULT]?.kind === 'external') cfg = { ...cfg, databaseUrl: readSecret(homePaths(cfg.home).serverUrl(EXTERNAL_DEFAULT)) };
  trimEnvironment(ALSO_KEEP);

  const jobs = new JobStore(
    cfg.home,
    async (job) => {
      // The audit log names the token that asked (src/events/audit.ts), never its secret.
      const as = job.token ? { ...cfg, actor: `token:${job.token}` } : cfg;
      const result = await OPERATIONS[job.operation]!.run(as, job.params, job.attempts);
      const failed = fleetFailure(result);
      if (failed) throw Object.assign(new Error(failed), { result });
      return result;
    },
    { log, onFinished: controlExtensions.onJobFinished },
  );
  const resumed = jobs.resume();
  if (resumed.length) log({ resumed: resumed.map((j) => j.id) });

  const app = await buildControlApi(cfg, {
    jobs,
    extend: async (a) => {
      await mountExtras(a, cfg, jobs);
      await controlExtensions.routes(a);
    },
  });
  ensureRunDir(cfg);
  const socket = runPaths(cfg.home).controlSocket;
  await bindUnixSocket(socket, { mode: 0o600 }, (temp) => app.listen({ path: temp })).catch((err: Error) => fail(`cannot listen on ${socket}: ${err.message}`));
  log({ listening: socket });

  let proxyServer: Server | undefined;
  // SILO_CONTROL_HOST: the same app for the proxy, on a socket in its folder (root and the
  // proxy's group, like the waker's), made the same way.
  if (cfg.controlHost) {
    const proxySocket = runPaths(cfg.home).controlProxySocket;
    const group = proxyUser(cfg)?.gid;
    const server = createServer((req, res) => app.routing(req, res));
    await bindUnixSocket(proxySocket, forProxy(group), serverListen(server)).catch((err: Error) => fail(`cannot listen on ${proxySocket}: ${err.message}`));
    proxyServer = server;
    log({ listening: proxySocket, host: cfg.controlHost });
  }
  process.send?.('ready');

  const stop = async () => {
    proxyServer?.close();
    await app.close().catch(() => undefined);
    await disconnect().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => fail((err as Error).message));
