/**
 * The edge (SILO_RUNTIME=swarm, SILO_EDGE_PORT): nginx as a global Swarm service on the
 * nodes labelled `silo.edge=true`, with the same silo-rendered config as the control
 * host's, for paths inside its container. What nginx there reads per request (the route
 * files, the customer domains' links, the suspended pages) and its config come as one
 * feed from the control host: the edge agent in the container (edge-agent-main.ts) fetches
 * it over HTTP with a bearer token (a Docker secret mounted only into the edge service),
 * writes the same files locally, each atomically, and reloads its nginx only when the
 * config itself changed, as the control host does; a tenant or a domain added or removed
 * never reloads it. A tenant that does not answer goes, as on the control host, to
 * `@silo_wake`: the agent's own Unix socket, which forwards to the waker's TCP port on the
 * control host with the token. No token, no answer (401): nothing else is on that port.
 *
 * The agent runs this file in the edge image, which has silo's dist/ but no node_modules:
 * it imports Node's own modules and, of silo's, only those that import nothing else.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';

/** Where things are inside the edge container. */
export const EDGE_ROOT = '/run/silo-edge';
export const EDGE_PATHS = {
  /** nginx's prefix: nginx.conf, tenants.conf, pool.conf, its pid file and temp folders */
  nginx: join(EDGE_ROOT, 'nginx'),
  /** `_routes/<tenant>` and `_hosts/<domain>`, as in the control host's run folder */
  run: join(EDGE_ROOT, 'run'),
  suspended: join(EDGE_ROOT, 'suspended'),
  /** the agent's socket nginx's @silo_wake goes to */
  wakerSocket: join(EDGE_ROOT, 'waker.sock'),
};
/** The port nginx listens on inside the container (published on the node as SILO_EDGE_PORT). */
export const EDGE_LISTEN_PORT = 80;
/** nginx's workers in the container: Debian's unprivileged user and group. */
export const EDGE_RUN_AS = { user: 'nobody', group: 'nogroup' };
/** The token's file in the edge's container (a Docker secret). */
export const EDGE_TOKEN_IN_TASK = '/run/secrets/edge-token';
export const EDGE_FEED_PATH = '/_silo/edge/feed';

export interface EdgeFeed {
  /** nginx's config files, by name (rendered for EDGE_PATHS) */
  config: Record<string, string>;
  /** the routed tenants (each an empty file in `_routes/`) */
  routes: string[];
  /** customer domains: domain -> tenant (a link `_hosts/<domain>` -> `../_routes/<tenant>`) */
  hosts: Record<string, string>;
  /** the suspended pages' files, by name */
  suspended: Record<string, string>;
}

/** The token the control host and the edge share: made once, 0600, in $SILO_HOME/secrets. */
export function ensureEdgeToken(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileAtomic(file, randomBytes(32).toString('hex'), 0o600);
  }
  return readFileSync(file, 'utf8').trim();
}

/** `Authorization: Bearer <token>` carries exactly `token` (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  if (!m || token.length < 32) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** A folder's names, sorted: the same files make the same feed, byte for byte (its ETag). */
const readDir = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

/**
 * The feed's version, as an HTTP entity tag: a hash of its text. The agent sends the last
 * one it applied (If-None-Match) and the control host answers 304 while it is the same, so
 * an idle stack sends a few headers a second to each edge node, not its whole config.
 */
export function edgeFeedTag(text: string): string {
  return `"${createHash('sha256').update(text).digest('base64url')}"`;
}

/**
 * The feed, from the control host's files as they are now: the edge's rendered config
 * (`configDir`, written by the stack with the proxy's), the run folder's routes and
 * domain links, the suspended pages.
 */
export function readEdgeFeed(p: { configDir: string; routesDir: string; hostsDir: string; suspendedDir: string }): EdgeFeed {
  const config: Record<string, string> = {};
  for (const name of ['nginx.conf', 'tenants.conf', 'pool.conf']) if (existsSync(join(p.configDir, name))) config[name] = readFileSync(join(p.configDir, name), 'utf8');
  const hosts: Record<string, string> = {};
  for (const domain of readDir(p.hostsDir)) {
    try {
      hosts[domain] = basename(readlinkSync(join(p.hostsDir, domain)));
    } catch {
      // removed meanwhile
    }
  }
  const suspended: Record<string, string> = {};
  for (const name of readDir(p.suspendedDir)) {
    if (name.endsWith('.tmp')) continue;
    try {
      suspended[name] = readFileSync(join(p.suspendedDir, name), 'utf8');
    } catch {
      // removed meanwhile
    }
  }
  return { config, routes: readDir(p.routesDir).filter((n) => /^[a-z0-9-]+$/.test(n)), hosts, suspended };
}

const SAFE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/**
 * Make the edge's files those of `feed`. Routes and pages appear before the config that
 * might name them and leave after; a suspension's `.soon` first and its pages' removal
 * first, as writeSuspendedPages does. Returns whether nginx's config changed (then it
 * must be checked and reloaded); nothing else ever needs a reload.
 */
export function applyEdgeFeed(feed: EdgeFeed, paths: { nginx: string; run: string; suspended: string } = EDGE_PATHS): boolean {
  const routesDir = join(paths.run, '_routes');
  const hostsDir = join(paths.run, '_hosts');
  for (const d of [paths.nginx, paths.run, routesDir, hostsDir, paths.suspended]) mkdirSync(d, { recursive: true, mode: 0o755 });

  // Suspended pages: the new ones first (.soon before its pages), then the old ones go (.json first).
  const pages = Object.entries(feed.suspended).filter(([n]) => SAFE_NAME.test(n)).sort(([a], [b]) => Number(b.endsWith('.soon')) - Number(a.endsWith('.soon')));
  for (const [name, text] of pages) {
    const file = join(paths.suspended, name);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileAtomic(file, text, 0o644);
  }
  const order = (f: string) => (f.endsWith('.json') ? 0 : f.endsWith('.html') ? 1 : 2);
  for (const f of readDir(paths.suspended).sort((a, b) => order(a) - order(b))) if (!(f in feed.suspended)) rmSync(join(paths.suspended, f), { force: true });

  // Routes: new ones appear, gone ones leave (an empty file each: nginx checks it exists).
  const routes = new Set(feed.routes.filter((n) => /^[a-z0-9-]+$/.test(n)));
  for (const name of routes) if (!existsSync(join(routesDir, name))) writeFileAtomic(join(routesDir, name), '', 0o644);
  for (const name of readDir(routesDir)) if (!routes.has(name)) rmSync(join(routesDir, name), { force: true });

  // Domains: a link each, replaced by a rename (never missing while it changes).
  const hosts = Object.entries(feed.hosts).filter(([d, t]) => SAFE_NAME.test(d) && /^[a-z0-9-]+$/.test(t));
  for (const [domain, tenant] of hosts) {
    const link = join(hostsDir, domain);
    const target = join('..', '_routes', tenant);
    let now: string | undefined;
    try {
      now = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : undefined;
    } catch {
      now = undefined;
    }
    if (now === target) continue;
    const tmp = `${link}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    symlinkSync(target, tmp);
    renameSync(tmp, link);
  }
  const wanted = new Set(hosts.map(([d]) => d));
  for (const d of readDir(hostsDir)) if (!wanted.has(d)) rmSync(join(hostsDir, d), { force: true });

  // The config: base first, tenants last (each rename atomic), as installProxyConfig does.
  let changed = false;
  for (const name of ['nginx.conf', 'pool.conf', 'tenants.conf']) {
    const text = feed.config[name];
    if (text === undefined) continue;
    const file = join(paths.nginx, name);
    if (existsSync(file) && readFileSync(file, 'utf8') === text) continue;
    writeFileAtomic(file, text, 0o644);
    changed = true;
  }
  return changed;
}
