/**
 * The one contract every proxy implements (nginx and Caddy today): render the config
 * from the proxy model, validate a candidate with the proxy's own checker, tell the
 * running proxy to load the installed config, report its status (its pid file, and a
 * real request), and how to run it in the foreground. Nothing outside this folder asks which proxy
 * it is.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../common/config.js';
import { findProgram } from './binaries.js';
import { renderCaddy } from './caddy.js';
import type { ProxyModel } from './model.js';
import { renderNginx } from './nginx.js';
import { keepQueuedConnectionsOnReload } from './reuseport.js';
import { childPids, isAlive } from '../common/processes.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { probe } from '../common/http-probe.js';

const run = promisify(execFile);

export type ProxyKind = 'nginx' | 'caddy';

export interface ProxyDriver {
  kind: ProxyKind;
  /** $SILO_HOME/proxy/<kind>: config, pid file, temp and state folders */
  dir: string;
  /** the file the running proxy reads */
  config: string;
  /** the file the running proxy writes its pid to */
  pidFile: string;
  /** the files of a complete config, by name (relative to `dir`) */
  render(model: ProxyModel): Record<string, string>;
  /** check the config rendered into `stagingDir` with the proxy's own validator */
  validate(stagingDir: string): Promise<void>;
  /** make the running proxy (pid `pid`) load the installed config, without dropping requests */
  reload(pid: number): Promise<void>;
  /** how to run it in the foreground (PM2 runs this) */
  command(): { script: string; args: string[]; env: Record<string, string> };
  /** the running proxy's pid (by its pid file), and whether it answers on `listen` */
  status(listen: { host: string; port: number }): Promise<{ pid?: number; answers: boolean }>;
}

/**
 * A proxy answers when a request for a host nobody serves gets its own 404 (a worker
 * would answer 421, something else on the port anything else).
 */
async function answers(listen: { host: string; port: number }): Promise<boolean> {
  try {
    return (await probe(listen.host, listen.port, '/', 'silo-status.invalid', 2000)).status === 404;
  } catch {
    return false;
  }
}

function withStatus(d: Omit<ProxyDriver, 'status'>): ProxyDriver {
  const driver: ProxyDriver = { ...d, status: async (listen) => ({ pid: runningProxyPid(driver), answers: await answers(listen) }) };
  return driver;
}

/** pid of the running proxy according to its pid file, if that process lives and is it. */
export function runningProxyPid(driver: ProxyDriver): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(driver.pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(driver.kind) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForAllExit(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(20);
}

function lastLine(err: unknown): string {
  const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
  return stderr.split('\n').filter(Boolean).pop() ?? (err as Error).message;
}

function env(dir: string): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'data'),
    SILO_CADDY_ADMIN: join(dir, 'admin.sock'),
  };
}

function nginxDriver(dir: string, binary: string): Omit<ProxyDriver, 'status'> {
  const config = join(dir, 'nginx.conf');
  const tempDirs = () => {
    for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, 'tmp', t), { recursive: true });
  };
  return {
    kind: 'nginx',
    dir,
    config,
    pidFile: join(dir, 'nginx.pid'), // `pid nginx.pid;` in proxy/nginx.conf, relative to the prefix
    render: (model) => ({
      'nginx.conf': readFileSync(join(projectRoot, 'proxy', 'nginx.conf'), 'utf8'),
      'tenants.conf': renderNginx(model),
    }),
    async validate(stagingDir) {
      tempDirs();
      try {
        await run(binary, ['-t', '-q', '-e', 'stderr', '-p', dir, '-c', join(stagingDir, 'nginx.conf')]);
      } catch (err) {
        throw new Error(`the rendered nginx config is invalid: ${lastLine(err)}`);
      }
    },
    async reload(pid) {
      // The master starts workers with the new config and tells the old ones to finish
      // their requests and exit. Until they have, a new connection can still land on an
      // old one (each worker has its own reuseport socket): wait, so that "reloaded"
      // means every connection from now on sees the new config.
      const old = childPids(pid);
      keepQueuedConnectionsOnReload();
      process.kill(pid, 'SIGHUP');
      await waitForAllExit(old, 15_000);
    },
    command() {
      tempDirs();
      keepQueuedConnectionsOnReload();
      return { script: binary, args: ['-e', 'stderr', '-p', dir, '-c', config, '-g', 'daemon off;'], env: env(dir) };
    },
  };
}

function caddyDriver(dir: string, binary: string): Omit<ProxyDriver, 'status'> {
  const config = join(dir, 'Caddyfile');
  const adminSocket = join(dir, 'admin.sock');
  const pidFile = join(dir, 'caddy.pid');
  return {
    kind: 'caddy',
    dir,
    config,
    pidFile,
    render: (model) => ({ Caddyfile: renderCaddy(readFileSync(join(projectRoot, 'proxy', 'Caddyfile.base'), 'utf8'), model) }),
    async validate(stagingDir) {
      try {
        await run(binary, ['validate', '--config', join(stagingDir, 'Caddyfile'), '--adapter', 'caddyfile'], { env: env(dir) });
      } catch (err) {
        throw new Error(`the rendered caddy config is invalid: ${lastLine(err)}`);
      }
    },
    async reload() {
      // Through the admin API: an atomic swap that keeps the old config on error.
      try {
        await run(binary, ['reload', '--config', config, '--adapter', 'caddyfile', '--address', `unix/${adminSocket}`], { env: env(dir) });
      } catch (err) {
        throw new Error(`caddy reload failed: ${lastLine(err)}`);
      }
    },
    command: () => ({ script: binary, args: ['run', '--config', config, '--adapter', 'caddyfile', '--pidfile', pidFile], env: env(dir) }),
  };
}

/** The driver for `kind`, keeping its files under `proxyHome/<kind>`. */
export function proxyDriver(proxyHome: string, kind: ProxyKind): ProxyDriver {
  const binary = findProgram(kind);
  if (!binary) {
    throw new Error(
      kind === 'nginx'
        ? 'nginx is not installed (Debian: apt-get install nginx-light), or set SILO_PROXY=caddy'
        : 'caddy is not installed (Debian: apt-get install caddy), or set SILO_PROXY=nginx',
    );
  }
  const dir = join(proxyHome, kind);
  return withStatus(kind === 'nginx' ? nginxDriver(dir, binary) : caddyDriver(dir, binary));
}
