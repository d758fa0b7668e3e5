/**
 * The one contract every proxy implements (nginx and Caddy today): render the config
 * from the proxy model, validate a candidate with the proxy's own checker, tell the
 * running proxy to load the installed config, report its status (its pid file, and a
 * real request), and how to run it in the foreground. Nothing outside this folder asks which proxy
 * it is. Each kind implements it in its own folder (nginx/, caddy/); kinds.ts lists them.
 */
import { chownSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyModel } from './model.js';
import { probe } from '../common/http-probe.js';

import type { ProxyKind } from './kinds.js';

export type { ProxyKind };

export interface RunAs {
  uid: number;
  gid: number;
}

export interface ProxyDriver {
  kind: ProxyKind;
  /** $SILO_HOME/proxy/<kind>: config, pid file, temp and state folders */
  dir: string;
  /** the file the running proxy reads */
  config: string;
  /** the file the running proxy writes its pid to */
  pidFile: string;
  /** the files of a complete config, by name (relative to `dir`) */
  render(model: ProxyModel): Record<string, string> | Promise<Record<string, string>>;
  /** rendered files that hold a secret: installed 0600, owned by the proxy's user */
  privateFiles?: string[];
  /**
   * Rendered files whose change alone needs no reload: installed, and read by the running
   * proxy at its next reload or start (nginx's keep-alive upstreams: nginx/pool.ts).
   */
  deferred?: string[];
  /**
   * With ACME on, a proxy that obtains a host's certificate itself, in the host's first HTTPS
   * handshake (an order, the CA's validation through this proxy, the finalisation): how long
   * that handshake may take. Unset: it never does (silo obtains certificates beforehand).
   */
  issuingHandshakeMs?: number;
  /** check the config rendered into `stagingDir` with the proxy's own validator */
  validate(stagingDir: string): Promise<void>;
  /** make the running proxy (pid `pid`) load the installed config, without dropping requests */
  reload(pid: number): Promise<void>;
  /** how to run it in the foreground (PM2 runs this) */
  /**
   * How to run it in the foreground (PM2 runs this). `runAs` (under root): the
   * unprivileged user it serves as: nginx's workers (its master stays root to bind and
   * reload), Caddy as a whole; its working files are handed to that user.
   */
  command(runAs?: RunAs): { script: string; args: string[]; env: Record<string, string> };
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

export function withStatus(d: Omit<ProxyDriver, 'status'>): ProxyDriver {
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

export function lastLine(err: unknown): string {
  const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
  return stderr.split('\n').filter(Boolean).pop() ?? (err as Error).message;
}

export function proxyEnv(dir: string): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'data'),
    SILO_CADDY_ADMIN: join(dir, 'admin.sock'),
  };
}

/** `path` and everything under it owned by `runAs`. */
export function chownTree(path: string, runAs: RunAs): void {
  chownSync(path, runAs.uid, runAs.gid);
  for (const rel of readdirSync(path, { recursive: true }) as string[]) chownSync(join(path, rel), runAs.uid, runAs.gid);
}

/** setpriv's arguments down to `runAs`, keeping only the right to bind ports below 1024 (SILO_HTTP_PORT=80). */
export function dropTo(runAs: RunAs): string[] {
  const caps = '+net_bind_service';
  return [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, '--'];
}
