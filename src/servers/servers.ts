/**
 * PostgreSQL servers tenants are placed on. The embedded server is `local` (data under
 * $SILO_HOME/postgres/local); with SILO_DATABASE_URL set, that external server is
 * `default` instead. More can be added with `silo server add`, as in the Django
 * original's one Postgres server per client.
 */
import type { Sql } from 'postgres';
import { existsSync } from 'node:fs';
import { formatPgUrl, isSocketFolder, parsePgUrl, type PgUrlParts } from '../contract/pg-connect.js';
import { connectAdmin, connectionProblem } from '../postgres/admin.js';
import { runningPid, socketFolder, startEmbedded, type EmbeddedServerOptions, type RunningServer } from '../postgres/embedded.js';
import { hardenServer } from '../postgres/tenant-ddl.js';
import type { SiloConfig } from '../common/config.js';
import { homePaths } from '../common/paths.js';
import { isPortFree, freePort } from '../common/ports.js';
import { readRegistry, updateRegistry, type Registry, type ServerEntry } from '../registry/registry.js';
import { generatePassword, readSecret, redactUrl, writeSecret } from '../common/secrets.js';
import { validateServerName } from '../common/names.js';
import { recordSettings, unrecorded } from '../registry/settings.js';
import { crashPoint } from '../common/crash-point.js';
import { SiloError } from '../common/errors.js';
import { audited } from '../events/audit.js';
import { budgetOf, knownMaxConnections, placeByBudget } from './connection-budget.js';

export const EMBEDDED = 'local';
export const EXTERNAL_DEFAULT = 'default';

export function parseUrl(url: string): PgUrlParts {
  try {
    return parsePgUrl(url);
  } catch (err) {
    // `new URL` throws a TypeError for what is no URL at all; parsePgUrl's own messages say what is wrong.
    const why = err instanceof TypeError ? 'not a valid PostgreSQL URL' : (err as Error).message;
    throw new SiloError(`${why}: ${redactUrl(url)}`);
  }
}

/** Where a server is reached, as the registry records it: address and TLS, never a secret. */
function serverEntryOf(kind: ServerEntry['kind'], p: PgUrlParts): ServerEntry {
  return { kind, host: p.host, port: p.port, ...(p.sslmode ? { sslmode: p.sslmode } : {}), ...(p.sslrootcert ? { sslrootcert: p.sslrootcert } : {}) };
}

/** The admin URL of a new embedded server: its Unix socket folder, no TCP. */
function embeddedUrl(cfg: SiloConfig, name: string, port: number, password: string): string {
  return formatPgUrl({ host: socketFolder(homePaths(cfg.home).pgData(name)), port, user: 'postgres', password, database: 'postgres' });
}

/**
 * Embedded servers registered by an older silo listened on 127.0.0.1: from now on they
 * are reached on their Unix socket (the registry entry and the admin URL say so; the
 * server takes the socket, and drops TCP, at its next start).
 */
async function socketsForEmbedded(cfg: SiloConfig, reg: Registry): Promise<Registry> {
  const paths = homePaths(cfg.home);
  const old = Object.entries(reg.servers).filter(([, s]) => s.kind === 'embedded' && !isSocketFolder(s.host));
  if (!old.length) return reg;
  return updateRegistry(paths.registry, (r) => {
    for (const [name] of old) {
      const entry = r.servers[name]!;
      if (isSocketFolder(entry.host)) continue;
      const url = embeddedUrl(cfg, name, entry.port, parseUrl(adminUrl(cfg, name)).password);
      writeSecret(paths.serverUrl(name), url);
      r.servers[name] = serverEntryOf('embedded', parseUrl(url));
    }
    return r;
  });
}

/**
 * Make sure the default server is registered and the stack's settings are recorded
 * (first run, or a setting set for the first time), and return the registry.
 */
export async function ensureDefaultServer(cfg: SiloConfig): Promise<Registry> {
  const paths = homePaths(cfg.home);
  const current = await socketsForEmbedded(cfg, readRegistry(paths.registry));
  const wanted = cfg.databaseUrl ? EXTERNAL_DEFAULT : EMBEDDED;
  if (current.servers[wanted] && !unrecorded(current, cfg)) return current;
  return updateRegistry(paths.registry, async (reg) => {
    recordSettings(reg, cfg);
    if (reg.servers[wanted]) return reg;
    if (cfg.databaseUrl) {
      writeSecret(paths.serverUrl(wanted), cfg.databaseUrl);
      reg.servers[wanted] = serverEntryOf('external', parseUrl(cfg.databaseUrl));
    } else {
      // The port names the socket file (.s.PGSQL.<port>); a free one keeps it unique
      // among servers on this host that also listen on TCP.
      const port = (await isPortFree(cfg.pgPort)) ? cfg.pgPort : await freePort();
      const url = embeddedUrl(cfg, wanted, port, generatePassword());
      writeSecret(paths.serverUrl(wanted), url);
      reg.servers[wanted] = serverEntryOf('embedded', parseUrl(url));
    }
    return reg;
  });
}

/** The server a new tenant goes to: the most connection budget per tenant (connection-budget.ts). */
export function placeTenant(registry: Registry, requested: string | undefined, cfg: Pick<SiloConfig, 'pgMaxConnections'>): string {
  if (requested) {
    if (!registry.servers[requested]) throw new SiloError(`unknown server "${requested}" (see silo server list)`);
    return requested;
  }
  const counts = new Map(Object.keys(registry.servers).map((s) => [s, 0]));
  for (const t of Object.values(registry.tenants)) counts.set(t.server, (counts.get(t.server) ?? 0) + 1);
  const where = placeByBudget(
    [...counts].map(([name, tenants]) => ({ name, tenants, budget: budgetOf(knownMaxConnections(cfg, registry.servers[name]!)) })),
  );
  if (!where) throw new SiloError('no database server is registered');
  return where;
}

export interface OpenServer {
  name: string;
  entry: ServerEntry;
  admin: Sql;
  /** close the admin pool, and stop the embedded server if this call started it */
  release(): Promise<void>;
}

export function adminUrl(cfg: SiloConfig, name: string): string {
  const url = readSecret(homePaths(cfg.home).serverUrl(name));
  if (!url) throw new SiloError(`no admin credentials for server "${name}" (missing ${homePaths(cfg.home).serverUrl(name)})`);
  return url;
}

/** How to run an embedded server: its data dir, port and superuser password (for initdb). */
export function embeddedOptions(cfg: SiloConfig, registry: Registry, name: string): EmbeddedServerOptions {
  const entry = registry.servers[name];
  if (entry?.kind !== 'embedded') throw new SiloError(`server "${name}" is not an embedded server`);
  const dataDir = homePaths(cfg.home).pgData(name);
  return {
    dataDir,
    port: entry.port,
    password: parseUrl(adminUrl(cfg, name)).password,
    maxConnections: cfg.pgMaxConnections,
    ...(isSocketFolder(entry.host) ? { socketDir: entry.host } : {}),
  };
}

const STACK_SERVER_WAIT_MS = 20_000;

async function waitForStackServer(cfg: SiloConfig, name: string): Promise<void> {
  const deadline = Date.now() + STACK_SERVER_WAIT_MS;
  let problem = await serverProblem(cfg, name);
  while (problem && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    problem = await serverProblem(cfg, name);
  }
  if (problem) {
    throw new SiloError(`the stack's database server "${name}" does not answer (${problem}); PM2 restarts it, or run silo up if the stack's PM2 daemon is gone`);
  }
}

/**
 * Open an admin connection to a server. An embedded one that is down is started for
 * this command and stopped again by release(), unless the stack is supposed to run:
 * then it is PM2's to restart, and this waits for it.
 */
export async function openServer(cfg: SiloConfig, registry: Registry, name: string): Promise<OpenServer> {
  const entry = registry.servers[name];
  if (!entry) throw new SiloError(`unknown server "${name}"`);
  const url = adminUrl(cfg, name);
  let started: RunningServer | undefined;
  if (entry.kind === 'embedded') {
    const opts = embeddedOptions(cfg, registry, name);
    if (registry.settings?.running) {
      // The stack's own server is supposed to run (under PM2): never start a second,
      // private one on its data; give PM2 a moment to bring it back instead.
      await waitForStackServer(cfg, name);
    } else if (!runningPid(opts.dataDir)) {
      started = await startEmbedded(opts);
    }
  }
  const admin = connectAdmin(url);
  try {
    await admin`select 1`;
    await hardenServer(admin);
  } catch (err) {
    await admin.end({ timeout: 1 });
    await started?.stop();
    throw new SiloError(`cannot reach database server "${name}" at ${entry.host}:${entry.port}: ${(err as Error).message}`);
  }
  return {
    name,
    entry,
    admin,
    async release() {
      await admin.end({ timeout: 5 });
      await started?.stop();
    },
  };
}

export async function withServer<T>(cfg: SiloConfig, registry: Registry, name: string, fn: (s: OpenServer) => Promise<T>): Promise<T> {
  const server = await openServer(cfg, registry, name);
  try {
    return await fn(server);
  } finally {
    await server.release();
  }
}

/** `silo server add`: check the admin URL, harden the server, record it (audited as server.add, without its URL). */
export function addServer(cfg: SiloConfig, name: string, url: string): Promise<{ name: string; host: string; port: number; version: string }> {
  return audited(cfg, 'server.add', name, () => registerServer(cfg, name, url));
}

async function registerServer(cfg: SiloConfig, name: string, url: string): Promise<{ name: string; host: string; port: number; version: string }> {
  validateServerName(name);
  const parts = parseUrl(url);
  const { host, port } = parts;
  if (parts.sslrootcert && !existsSync(parts.sslrootcert)) throw new SiloError(`sslrootcert ${parts.sslrootcert}: no such file`);
  const admin = connectAdmin(url);
  let version: string;
  let maxConnections: number;
  try {
    const [me] = await admin<{ super: boolean; createrole: boolean; createdb: boolean; version: string; max: number }[]>`
      select rolsuper as super, rolcreaterole as createrole, rolcreatedb as createdb,
             current_setting('server_version') as version, current_setting('max_connections')::int as max
      from pg_roles where rolname = current_user`;
    if (!me || !(me.super || (me.createrole && me.createdb))) {
      throw new SiloError(`the role in that URL can neither create roles nor databases on ${host}:${port}`);
    }
    await hardenServer(admin);
    version = me.version;
    maxConnections = me.max;
  } catch (err) {
    if (err instanceof SiloError) throw err;
    throw new SiloError(`cannot use ${redactUrl(url)} as an admin connection: ${(err as Error).message}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const paths = homePaths(cfg.home);
  crashPoint('server-add', 'register');
  await updateRegistry(paths.registry, (reg) => {
    const existing = reg.servers[name];
    if (existing && (existing.host !== host || existing.port !== port || existing.kind !== 'external')) {
      throw new SiloError(`server "${name}" is already registered at ${existing.host}:${existing.port}`);
    }
    // One server, one name: a second name would count its tenants apart when placing.
    const twin = Object.entries(reg.servers).find(([other, s]) => other !== name && s.host === host && s.port === port);
    if (twin) throw new SiloError(`${host}:${port} is already registered as server "${twin[0]}": place tenants on it with --server ${twin[0]}`);
    writeSecret(paths.serverUrl(name), url);
    reg.servers[name] = { ...serverEntryOf('external', parts), maxConnections };
  });
  return { name, host, port, version };
}

/** Does the server answer a query right now? Undefined if it does, else why not. */
export async function serverProblem(cfg: SiloConfig, name: string, timeoutS = 2): Promise<string | undefined> {
  let url: string;
  try {
    url = adminUrl(cfg, name);
  } catch (err) {
    return (err as Error).message;
  }
  try {
    return await connectionProblem(connectAdmin(url, { max: 1, connectTimeoutS: timeoutS, applicationName: 'silo-status' }));
  } catch (err) {
    return (err as Error).message;
  }
}
