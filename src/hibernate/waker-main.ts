/**
 * The waker, as PM2 runs it (`node dist/hibernate/waker-main.js`, app `waker`). Its
 * configuration arrives in SILO_WAKER_CONFIG (the stack's settings without the admin
 * database URL); its environment is then cut down to what PM2 needs, so nothing of it
 * leaks into the workers it starts.
 */
import type { SiloConfig } from '../common/config.js';
import { ACTIVITY_MESSAGE, type ActivityReport } from '../contract/worker.js';
import * as pm2 from '../pm2/pm2.js';
import { createWaker } from './waker.js';
import { createWakerServer } from './waker-http.js';

const KEEP = /^(PATH|HOME|LANG|LC_ALL|TZ|PM2_HOME|PM2_SILENT|NODE_EXTRA_CA_CERTS)$/;

function log(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...fields }) + '\n');
}

function fail(message: string): never {
  process.stderr.write(`silo waker: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let cfg: SiloConfig;
  try {
    cfg = JSON.parse(process.env.SILO_WAKER_CONFIG ?? '') as SiloConfig;
  } catch {
    fail('SILO_WAKER_CONFIG is missing or not JSON');
  }
  const port = Number(process.env.SILO_WAKER_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('SILO_WAKER_PORT is not a port');
  for (const key of Object.keys(process.env)) if (!KEEP.test(key)) delete process.env[key];

  const waker = createWaker(cfg, log);
  const bus = await pm2.launchBus();
  bus.on(ACTIVITY_MESSAGE, (packet) => {
    if (packet.process.namespace === undefined || packet.process.namespace === 'silo') waker.onActivity(packet.process.name, packet.data as ActivityReport);
  });

  const server = createWakerServer(waker, log);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  }).catch((err: Error) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));

  let timer: NodeJS.Timeout;
  const loop = () => {
    timer = setTimeout(() => {
      waker.tick().catch((err: Error) => log({ msg: 'tick failed', err: err.message })).finally(loop);
    }, waker.tickInterval());
  };
  loop();

  const stop = () => {
    clearTimeout(timer);
    waker.flush();
    server.close();
    server.closeAllConnections();
    void pm2.disconnect().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log({ msg: 'waker listening', port, hibernateAfter: cfg.hibernateAfter });
  process.send?.('ready');
}

main().catch((err: Error) => fail(err.message));
