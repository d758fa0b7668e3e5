/**
 * Where a stack's Unix sockets live: one folder per tenant holding its worker's
 * `http.sock` (and `activity`, touched by the worker while it serves requests, and
 * `requests.json`, its request counts), and the
 * waker's socket in `_proxy/`. The proxy derives a tenant's socket from the request's
 * host, so nothing about a tenant has to be written into the proxy's config.
 *
 * Under root: /run/silo/<hash of $SILO_HOME> (short paths, a tmpfs, independent of the
 * home's own modes); otherwise $SILO_HOME/run (one user, nothing to separate). A socket
 * path must fit in 107 bytes, so a home too deep for that is refused with a clear line.
 * Who may enter which folder is src/isolation/run-dirs.ts.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { isRoot } from './reach.js';

export const RUN_ROOT = '/run/silo';
/** the socket a tenant's worker listens on, in its own folder */
export const WORKER_SOCKET = 'http.sock';
/** the file a worker touches while it serves requests (the waker reads its time) */
export const ACTIVITY_FILE = 'activity';
/** the file a worker writes its request counts to (src/contract/request-counts.ts; /metrics reads it) */
export const REQUEST_COUNTS_FILE = 'requests.json';
/** in the run folder: the file naming the home it belongs to (to clean up after tests) */
export const HOME_MARK = '_home';
/** sun_path holds 108 bytes with its terminating zero */
const SOCKET_PATH_MAX = 107;
/** what a worker appends while it binds (`http.sock.<pid>`, renamed over `http.sock`) */
const TEMP_SUFFIX = '.4194304';

export function runDir(home: string): string {
  if (isRoot()) return join(RUN_ROOT, createHash('sha256').update(resolve(home)).digest('hex').slice(0, 12));
  return join(resolve(home), 'run');
}

export function runPaths(home: string) {
  const dir = runDir(home);
  const tenantDir = (tenant: string) => join(dir, tenant);
  return {
    dir,
    mark: join(dir, HOME_MARK),
    tenantDir,
    workerSocket: (tenant: string) => join(tenantDir(tenant), WORKER_SOCKET),
    activity: (tenant: string) => join(tenantDir(tenant), ACTIVITY_FILE),
    requestCounts: (tenant: string) => join(tenantDir(tenant), REQUEST_COUNTS_FILE),
    /** one empty file per routed tenant: nginx sends a host to a tenant only while its file exists */
    routesDir: join(dir, '_routes'),
    route: (tenant: string) => join(dir, '_routes', tenant),
    /** one symlink per customer domain, to its tenant's route file: nginx finds the tenant of such a host here, per request */
    hostsDir: join(dir, '_hosts'),
    hostLink: (host: string) => join(dir, '_hosts', host),
    /** entered by the proxy's user and root only ('_': never a tenant's name) */
    proxyDir: join(dir, '_proxy'),
    wakerSocket: join(dir, '_proxy', 'waker.sock'),
    /** the control API (src/control/): root's (or the operator's) only, mode 0600 */
    controlSocket: join(dir, 'control.sock'),
    /** the same API for the proxy (SILO_CONTROL_HOST): its group and root only, like the waker's */
    controlProxySocket: join(dir, '_proxy', 'control.sock'),
  };
}

export type RunPaths = ReturnType<typeof runPaths>;

/** One line when the longest socket path of this home would not fit (a tenant name is at most 32). */
export function socketPathProblem(home: string): string | undefined {
  const longest = runPaths(home).workerSocket('x'.repeat(32)) + TEMP_SUFFIX;
  if (Buffer.byteLength(longest) <= SOCKET_PATH_MAX) return undefined;
  return `SILO_HOME ${resolve(home)} is too deep for Unix socket paths (${Buffer.byteLength(longest)} > ${SOCKET_PATH_MAX} bytes): use a shorter path`;
}
