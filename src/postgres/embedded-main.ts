/**
 * The embedded PostgreSQL server as a PM2 app: start it in the foreground, tell PM2 it
 * is ready, stop it cleanly on SIGINT/SIGTERM. If postgres itself dies (killed, out of
 * memory), this process exits too, so PM2 sees it and restarts it: PM2 watches this
 * wrapper, not postgres. Data directory and port come from the environment; the data
 * directory was initialised by `silo` (which holds the password).
 */
import { isInitialised, runningPid, startEmbedded, stopByPid } from './embedded.js';

const dataDir = process.env.SILO_PG_DATA;
const port = Number(process.env.SILO_PG_LISTEN_PORT);
// Set by silo for its own servers (a Unix socket, no TCP); unset only by an older ecosystem.
const socketDir = process.env.SILO_PG_SOCKET_DIR || undefined;
// SILO_PG_MAX_CONNECTIONS (src/servers/connection-budget.ts); unset: the server's default.
const maxConnections = Number(process.env.SILO_PG_MAX_CONNECTIONS) || undefined;
if (!dataDir || !Number.isInteger(port) || port <= 0) {
  process.stderr.write('silo postgres: SILO_PG_DATA and SILO_PG_LISTEN_PORT are required\n');
  process.exit(1);
}

if (!isInitialised(dataDir)) {
  process.stderr.write(`silo postgres: ${dataDir} is not initialised: run \`npx silo up\` once\n`);
  process.exit(1);
}

// A postgres orphaned by a SIGKILLed parent still holds the data dir and port: stop it
// so this process owns the server it reports on.
const orphan = runningPid(dataDir);
if (orphan) await stopByPid(orphan);

let server: Awaited<ReturnType<typeof startEmbedded>>;
try {
  server = await startEmbedded({ dataDir, port, socketDir, maxConnections, password: '', onLog: (l) => process.stdout.write(l) });
} catch (err) {
  process.stderr.write(`silo postgres: ${(err as Error).message}\n`);
  process.exit(1);
}
process.send?.('ready');

let stopping = false;
void server.exited.then(() => {
  if (stopping) return;
  process.stderr.write('silo postgres: the postgres process exited; exiting so that PM2 restarts it\n');
  process.exit(1);
});

async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
