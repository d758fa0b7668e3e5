/**
 * A small promise wrapper over PM2's programmatic API. PM2 reads PM2_HOME when it is
 * first imported, so it is imported lazily, after the caller's environment is final.
 * PM2's own default (~/.pm2) applies when PM2_HOME is unset, so `pm2 ls` and
 * `pm2 logs tenant-<name>` work as usual.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PM2App } from './ecosystem.js';
import { isAlive, waitForExit } from '../common/processes.js';

type Cb<T = unknown> = (err: Error | null, result: T) => void;
interface Pm2Api {
  connect(cb: Cb): void;
  disconnect(): void;
  start(app: object, cb: Cb): void;
  delete(name: string | number, cb: Cb): void;
  reload(name: string, opts: object, cb: Cb): void;
  restart(name: string, cb: Cb): void;
  list(cb: Cb<ProcessDescription[]>): void;
  sendSignalToProcessName(signal: string, name: string, cb: Cb): void;
  killDaemon(cb: Cb): void;
  launchBus(cb: Cb<LogBus>): void;
  _startJson(config: object, opts: object, action: string, cb: Cb): void;
  launchBus(cb: Cb<Pm2Bus>): void;
}

interface LogBus {
  on(event: 'log:out' | 'log:err', fn: (packet: { process: { name: string }; data: string }) => void): void;
}

export interface ProcessDescription {
  name: string;
  pid: number;
  pm_id: number;
  monit?: { memory: number; cpu: number };
  pm2_env?: { status: string; restart_time: number; exec_mode?: string; namespace?: string; pm_uptime?: number; unstable_restarts?: number; env?: Record<string, string> };
}

export function pm2Home(): string {
  return process.env.PM2_HOME ?? join(homedir(), '.pm2');
}

/** Is a PM2 daemon running for this PM2_HOME? (Checked without starting one.) */
export function daemonPid(): number | undefined {
  const file = join(pm2Home(), 'pm2.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

let api: Pm2Api | undefined;
/** Bumped when a dead daemon is forgotten: handlers on its bus go quiet. */
let generation = 0;

function call<T>(fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res))));
}

/**
 * The daemon is spawned with a minimal environment: every app inherits the daemon's
 * environment underneath its own `env`, so nothing from the shell that ran `silo up`
 * (SILO_DATABASE_URL holds an admin password) may reach a worker.
 */
// PM2_WORKER_INTERVAL: how often PM2 samples memory for max_memory_restart (default 30 s).
// _TAPJS_PROCESSINFO_COVERAGE_: under the test runner, keeps its coverage hook (which
// re-adds itself through NODE_OPTIONS) from instrumenting the daemon and every worker.
const DAEMON_ENV = /^(PATH|HOME|LANG|LC_ALL|TZ|TERM|PM2_HOME|PM2_SILENT|PM2_WORKER_INTERVAL|NODE_EXTRA_CA_CERTS|_TAPJS_PROCESSINFO_COVERAGE_)$/;

let connecting: Promise<Pm2Api> | undefined;

const NO_DAEMON = "PM2's daemon is not running (a process of the stack does not start one)";
/**
 * A process PM2 runs (PM2 gives its apps `pm_id`), read when this module loads: the waker
 * and the control app then trim their environment (so their workers do not inherit
 * PM2's variables), and a check read later would never see it.
 */
const RUN_BY_PM2 = process.env.pm_id !== undefined;
/** A process PM2 runs whose daemon is gone. */
const orphanedStackProcess = () => RUN_BY_PM2 && !daemonPid();

/** Connect once: concurrent first callers share one connection (and never spawn two daemons). */
export function connect(): Promise<Pm2Api> {
  // Asked at every call, not only at the first: a process of the stack connected before the
  // daemon died holds a PM2 client that would launch a new daemon at its next call, beside
  // (or after) the one silo run or silo up start, and outliving silo down.
  if (orphanedStackProcess()) return Promise.reject(new Error(NO_DAEMON));
  connecting ??= open().catch((err) => {
    connecting = undefined;
    throw err;
  });
  return connecting;
}

/** Run `fn` with process.env reduced to DAEMON_ENV (PM2 copies the caller's env into apps). */
async function withCleanEnv<T>(fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) {
    if (!DAEMON_ENV.test(key)) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
  }
  try {
    return await fn();
  } finally {
    Object.assign(process.env, saved);
  }
}

async function open(): Promise<Pm2Api> {
  // A process PM2 runs (the waker: PM2 gives its apps `pm_id`) never starts a daemon. After
  // the daemon died, the new one is `silo run`'s or `silo up`'s to start, once they have
  // stopped what the old one left: an orphaned waker starting its own would race them,
  // and two daemons on one PM2_HOME each believe they run the stack.
  if (orphanedStackProcess()) throw new Error(NO_DAEMON);
  process.env.PM2_SILENT ??= 'true'; // silo prints its own lines, not PM2's banners
  const mod = (await import('pm2')) as unknown as { default: Pm2Api };
  const pm2 = mod.default;
  return withCleanEnv(() => openClean(pm2));
}

async function openClean(pm2: Pm2Api): Promise<Pm2Api> {
  // Under root every file the daemon creates (the apps' logs) is private.
  const umask = process.getuid?.() === 0 ? process.umask(0o077) : undefined;
  // PM2 drops a worker to its uid and gid but keeps the daemon's supplementary groups:
  // start the daemon with none, so no worker inherits root's.
  if (umask !== undefined) process.setgroups?.([]);
  try {
    await call((cb) => pm2.connect(cb));
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  api = pm2;
  return pm2;
}

/**
 * After the daemon died under us: drop the connection to it, so the next call starts a
 * new daemon (with the same clean environment). PM2's client sockets would otherwise keep
 * retrying and join the next daemon by themselves, and log lines would arrive twice.
 */
export async function forgetDeadDaemon(): Promise<void> {
  generation++;
  const old = api ?? (connecting ? await connecting.catch(() => undefined) : undefined);
  api = undefined;
  connecting = undefined;
  const client = (old as unknown as { Client?: Record<string, unknown> } | undefined)?.Client;
  for (const key of ['client_sock', 'sub_sock']) {
    const sock = client?.[key] as { set?(k: string, v: number): void; retry?: number; close?(): void } | undefined;
    try {
      sock?.set?.('retry timeout', 0);
      if (sock) sock.retry = 0;
      sock?.close?.();
    } catch {
      // already closed
    }
    if (client) client[key] = undefined;
  }
}

export async function disconnect(): Promise<void> {
  if (connecting) await connecting.catch(() => undefined);
  // A process of the stack (the waker) whose daemon died leaves PM2's client as it is: once
  // disconnected, its next call (one already under way) would start a daemon of its own.
  if (!orphanedStackProcess()) api?.disconnect();
  api = undefined;
  connecting = undefined;
}

export async function list(namespace?: string): Promise<ProcessDescription[]> {
  const pm2 = await connect();
  const all = await call<ProcessDescription[]>((cb) => pm2.list(cb));
  return namespace ? all.filter((p) => p.pm2_env?.namespace === namespace) : all;
}

export async function killDaemonIfIdle(): Promise<boolean> {
  if (!daemonPid()) return false;
  if ((await list()).length > 0) {
    await disconnect();
    return false;
  }
  await killDaemon();
  return true;
}

/** Start an app; the pids of the processes PM2 spawned for it. */
export async function start(app: PM2App): Promise<number[]> {
  const pm2 = await connect();
  const started = (await call<unknown>((cb) => pm2.start(app, cb))) as { pid?: unknown }[] | undefined;
  return (Array.isArray(started) ? started : []).map((p) => p?.pid).filter((pid): pid is number => typeof pid === 'number' && pid > 0);
}

interface Pm2Common {
  verifyConfs(apps: object[]): object[] | Error;
  resolveAppAttributes(opts: { cwd: string; pm2_home: string }, app: object): { env?: Record<string, unknown>; [k: string]: unknown };
  mergeEnvironmentVariables(app: object, envName?: string, deploy?: object): Record<string, unknown> & { current_conf?: unknown };
}
interface Pm2Client {
  gl_is_km_linked: boolean;
  cwd: string;
  pm2_home: string;
  Client: { executeRemote(method: string, arg: object, cb: Cb<{ process?: { pid?: number } }[]>): void };
}
interface Pm2Modularizer {
  getAdditionalConf(name: string): Record<string, unknown>;
}
interface Pm2Internals {
  common: Pm2Common;
  modularizer: Pm2Modularizer;
}
let internals: Promise<Pm2Internals | undefined> | undefined;

/**
 * PM2's own modules that its start uses (not its public API: package-lock.json pins the
 * version they were read from), or undefined when this PM2 has them elsewhere or shaped
 * otherwise: startNew then takes PM2's public start, slower in a storm, never broken.
 */
export async function pm2Internals(load: (path: string) => Promise<{ default?: unknown }> = (p) => import(p)): Promise<Pm2Internals | undefined> {
  try {
    const common = (await load('pm2/lib/Common.js')).default as Partial<Pm2Common> | undefined;
    const modularizer = (await load('pm2/lib/API/Modules/Modularizer.js')).default as Partial<Pm2Modularizer> | undefined;
    const fns = [common?.verifyConfs, common?.resolveAppAttributes, common?.mergeEnvironmentVariables, modularizer?.getAdditionalConf];
    return fns.every((f) => typeof f === 'function') ? { common: common as Pm2Common, modularizer: modularizer as Pm2Modularizer } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Start an app PM2 does not have: a hibernated worker (its sleep deleted the app). PM2's
 * start first asks the daemon for every process with its CPU and memory (getMonitorData:
 * the /proc files of each process, and every app's whole definition copied over the
 * socket) only to find one of that name to restart instead; in a storm of wakes beside
 * many awake workers that listing was much of the daemon's work. Here the app is prepared
 * as PM2's start prepares it (lib/API.js, `startApps`: the same functions in the same
 * order) and handed to the daemon at once. The caller knows no app of the name exists (the
 * waker: from its listing after the tenant's last sleep; PM2 would run two).
 */
export async function startNew(app: PM2App): Promise<number[]> {
  const own = await (internals ??= pm2Internals());
  if (!own) return start(app);
  const { common, modularizer } = own;
  const pm2 = (await connect()) as unknown as Pm2Client;
  const confs = common.verifyConfs([{ ...app, env: { ...((app as { env?: object }).env ?? {}) } }]);
  if (confs instanceof Error) throw confs;
  const conf = confs[0] as Record<string, unknown>;
  conf.namespace ??= 'default';
  (conf.env as Record<string, unknown>).io = conf.io;
  const resolved = common.resolveAppAttributes({ cwd: pm2.cwd, pm2_home: pm2.pm2_home }, conf);
  resolved.env = { ...(resolved.env ?? {}), PM2_HOME: pm2.pm2_home, ...modularizer.getAdditionalConf(resolved.name as string) };
  resolved.env = common.mergeEnvironmentVariables(resolved);
  delete (resolved.env as Record<string, unknown>).current_conf;
  resolved.km_link = pm2.gl_is_km_linked;
  const started = await call<{ process?: { pid?: number } }[]>((cb) => pm2.Client.executeRemote('prepare', resolved, cb));
  return (started ?? []).map((p) => p?.process?.pid).filter((pid): pid is number => typeof pid === 'number' && pid > 0);
}

/** Start an app, replacing a leftover of the same name (errored or stopped). */
export async function startFresh(app: PM2App): Promise<number[]> {
  await remove(app.name).catch(() => undefined);
  return start(app);
}

/**
 * Delete an app; one already gone is done, not an error: `down` lists the apps, then
 * deletes them, and the waker may put a worker to sleep (delete it) in between.
 */
export async function remove(name: string): Promise<void> {
  const pm2 = await connect();
  try {
    await call((cb) => pm2.delete(name, cb));
  } catch (err) {
    // PM2 says "process or namespace not found", "process name not found" or "Process <id> not found"
    if (/\bnot found\b/i.test((err as Error).message ?? String(err))) return;
    throw err;
  }
}

export async function reload(name: string): Promise<void> {
  const pm2 = await connect();
  await call((cb) => pm2.reload(name, {}, cb));
}

/**
 * Reload a running app from its full definition, so changed settings (env, limits)
 * reach it (for a worker: stop, then start; the proxy holds its requests meanwhile).
 * (`pm2 reload <name>` would keep the old env; this is `pm2 reload ecosystem --only`.)
 * The caller's environment is reduced first: PM2 merges it into the app's.
 */
export async function reloadApp(app: PM2App): Promise<void> {
  const pm2 = await connect();
  await withCleanEnv(() => call((cb) => pm2._startJson({ apps: [app] }, {}, 'reloadProcessId', cb)));
}

/** Every line the apps write, as PM2's bus carries them (what pm2-runtime prints). */
export async function onLogLines(fn: (app: string, line: string, stream: 'out' | 'err') => void): Promise<void> {
  const pm2 = await connect();
  const bus = await call<LogBus>((cb) => pm2.launchBus(cb));
  const mine = generation;
  for (const stream of ['out', 'err'] as const) {
    bus.on(`log:${stream}`, (p) => {
      if (mine !== generation) return;
      for (const line of String(p.data).split('\n')) if (line) fn(p.process.name, line, stream);
    });
  }
}

export async function signal(name: string, sig: string): Promise<void> {
  const pm2 = await connect();
  await call((cb) => pm2.sendSignalToProcessName(sig, name, cb));
}

/** Stop the daemon and wait for it to exit (pm2 answers 1 to 3 s before it does). */
export async function killDaemon(): Promise<void> {
  const pid = daemonPid();
  const pm2 = await connect();
  await call((cb) => pm2.killDaemon(cb)).catch(() => undefined);
  await disconnect();
  if (pid) await waitForExit(pid, 10_000);
}

/** A message an app sent with process.send({ type, data }), as PM2's bus delivers it. */
export interface BusPacket<T = unknown> {
  data: T;
  process: { name: string; pm_id: number; namespace?: string };
}

export interface Pm2Bus {
  on(event: string, fn: (packet: BusPacket) => void): void;
}

/** Subscribe to PM2's event bus (closed by disconnect()). */
export async function launchBus(): Promise<Pm2Bus> {
  const pm2 = await connect();
  return call<Pm2Bus>((cb) => pm2.launchBus(cb));
}
