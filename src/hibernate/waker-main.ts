/**
 * The waker, as PM2 runs it (`node dist/hibernate/waker-main.js`, app `waker`). Its
 * configuration arrives in SILO_WAKER_CONFIG (the stack's settings without the admin
 * database URL); its environment is then cut down to what PM2 needs, so nothing of it
 * leaks into the workers it starts.
 */
import type { SiloConfig } from '../common/config.js';
import { failAs, jsonLog as log, trimEnvironment } from '../common/stack-process.js';
import { listenOn } from '../common/listen.js';
import { bindUnixSocket, forProxy, serverListen } from '../common/unix-socket.js';
import * as pm2 from '../pm2/pm2.js';
import { ensureRunDir } from '../isolation/run-dirs.js';
import { createWaker } from './waker.js';
import { copyControlState } from '../runtime/control-copy.js';
import { createEdgeServer, createWakerServer } from './waker-http.js';
import { ensureEdgeToken, readEdgeFeed } from '../proxy/edge.js';
import { homePaths } from '../common/paths.js';
import { runPaths } from '../common/run-dir.js';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlAddress } from '../runtime/swarm/edge-service.js';
import { clientFor } from '../runtime/swarm/swarm-runtime.js';

// Typed out, so that TypeScript knows a call to it does not return.
const fail: (message: string) => never = failAs('waker');

/**
 * The edge's port listens on the control host's Swarm address only, the one the edge is
 * told (edge-service.ts), not on every address of this host. The manager is asked until it
 * answers (at boot its engine may start after PM2 has started the waker), the Unix socket
 * serving meanwhile; a listen that fails (the port taken, or an address not this host's:
 * silo runs on the first engine's host) ends the waker, as it did before.
 */
async function listenForEdge(edge: Server, cfg: SiloConfig): Promise<void> {
  let host: string | undefined;
  let said = false;
  while (!host) {
    try {
      host = await controlAddress(await clientFor(cfg.swarmEngines[0]!));
    } catch (err) {
      if (!said) log({ msg: 'no Swarm address to listen on for the edge yet; asking again every 5 s', err: (err as Error).message });
      said = true;
      await sleep(5000);
    }
  }
  await listenOn(edge, { port: cfg.edgeControlPort, host }).catch((err: Error) => fail(`cannot listen on ${host}:${cfg.edgeControlPort} for the edge: ${err.message}`));
  log({ msg: 'listening for the edge', host, port: cfg.edgeControlPort });
}

async function main(): Promise<void> {
  let cfg: SiloConfig;
  try {
    cfg = JSON.parse(process.env.SILO_WAKER_CONFIG ?? '') as SiloConfig;
  } catch {
    fail('SILO_WAKER_CONFIG is missing or not JSON');
  }
  const socket = process.env.SILO_WAKER_SOCKET ?? '';
  if (!socket.startsWith('/')) fail('SILO_WAKER_SOCKET is not a path');
  const group = process.env.SILO_WAKER_GROUP ? Number(process.env.SILO_WAKER_GROUP) : undefined;
  trimEnvironment();

  try {
    ensureRunDir(cfg);
  } catch (err) {
    fail((err as Error).message);
  }
  const waker = createWaker(cfg, log);

  // The proxy's group only (0660), from its first moment.
  const server = createWakerServer(waker, log);
  server.keepAliveTimeout = 65_000;
  await bindUnixSocket(socket, forProxy(group), serverListen(server)).catch((err: Error) => fail(`cannot listen on ${socket}: ${err.message}`));

  /** Another home took the stack over (its copy in the swarm is newer): see copyControlState below. */
  let fenced = false;

  // SILO_RUNTIME=swarm with an edge service: the edge's agents fetch routes and send wakes
  // here, on TCP, with the token (src/proxy/edge.ts); the Unix socket above stays as it is.
  let edge: Server | undefined;
  if (cfg.runtime === 'swarm' && cfg.edgePort > 0) {
    const token = ensureEdgeToken(homePaths(cfg.home).edgeToken);
    const run = runPaths(cfg.home);
    const feedPaths = { configDir: homePaths(cfg.home).edgeConfig, routesDir: run.routesDir, hostsDir: run.hostsDir, suspendedDir: homePaths(cfg.home).suspendedPages };
    edge = createEdgeServer(waker, token, () => JSON.stringify(readEdgeFeed(feedPaths)), log, () => !fenced);
    edge.keepAliveTimeout = 65_000;
    void listenForEdge(edge, cfg);
  }

  // SILO_RUNTIME=swarm: the control state's copy in the swarm kept current (runtime/control-copy.ts).
  // Once another home has taken the stack over, this waker puts no tenant to sleep any more.
  const copy = copyControlState(cfg, log, () => {
    fenced = true;
    clearTimeout(timer);
  });

  let timer: NodeJS.Timeout;
  const loop = () => {
    if (fenced) return;
    timer = setTimeout(() => {
      waker.tick().catch((err: Error) => log({ msg: 'tick failed', err: err.message })).finally(loop);
    }, waker.tickInterval());
  };
  loop();

  const stop = () => {
    clearTimeout(timer);
    copy.stop();
    waker.flush();
    server.close();
    server.closeAllConnections();
    edge?.close();
    edge?.closeAllConnections();
    void pm2.disconnect().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log({ msg: 'waker listening', socket, hibernateAfter: cfg.hibernateAfter });
  process.send?.('ready');
}

main().catch((err: Error) => fail(err.message));
