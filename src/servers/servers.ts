/**
 * PostgreSQL servers tenants are placed on. The embedded server is `local` (data under
 * $SILO_HOME/postgres/local); with SILO_DATABASE_URL set, that external server is
 * `default` instead. More can be added with `silo server add`, as in the Django
 * original's one Postgres server per client.
 */
import postgres, { type Sql } from 'postgres';
import { connectAdmin, connectionProblem } from '../postgres/admin.js';
import { runningPid, startEmbedded, type EmbeddedServerOptions, type RunningServer } from '../postgres/embedded.js';
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

export const EMBEDDED = 'local';
export const EXTERNAL_DEFAULT = 'default';

export function parseUrl(url: string): { host: string; port: number; user: string; password: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SiloError(`not a valid PostgreSQL URL: ${redactUrl(url)}`);
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw new SiloError(`not a postgres:// URL: ${redactUrl(url)}`);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password),
  };
}

/**
 * Make sure the default server is registered and the stack's settings are recorded
 * (first run, or a setting set for the first time), and return the registry.
 */
export async function ensureDefaultServer(cfg: SiloConfig): Promise<Registry> {
  const paths = homePaths(cfg.home);
  const current = readRegistry(paths.registry);
  const wanted = cfg.databaseUrl ? EXTERNAL_DEFAULT : EMBEDDED;
  if (current.servers[wanted] && !unrecorded(current, cfg)) return current;
  return updateRegistry(paths.registry, async (reg) => {
    recordSettings(reg, cfg);
    if (reg.servers[wanted]) return reg;
    if (cfg.databaseUrl) {
      const { host, port } = parseUrl(cfg.databaseUrl);
      writeSecret(paths.serverUrl(wanted), cfg.databaseUrl);
      reg.servers[wanted] = { kind: 'external', host, port };
    } else {
      const port = (await isPortFree(cfg.pgPort)) ? cfg.pgPort : await freePort();
      const url = `postgres://postgres:${generatePassword()}@127.0.0.1:${port}/postgres`;
      writeSecret(paths.serverUrl(wanted), url);
      reg.servers[wanted] = { kind: 'embedded', host: '127.0.0.1', port };
    }
    return reg;
  });
}

/** The server a new tenant goes to: the one holding the fewest tenants. */
export function placeTenant(registry: Registry, requested?: string): string {
  if (requested) {
    if (!registry.servers[requested]) throw new SiloError(`unknown server "${requested}" (see silo server list)`);
    return requested;
  }
  const counts = new Map(Object.keys(registry.servers).map((s) => [s, 0]));
  for (const t of Object.values(registry.tenants)) counts.set(t.server, (counts.get(t.server) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  if (!sorted[0]) throw new SiloError('no database server is registered');
  return sorted[0][0];
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
  return { dataDir: homePaths(cfg.home).pgData(name), port: entry.port, password: parseUrl(adminUrl(cfg, name)).password };
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

export async function addServer(cfg: SiloConfig, name: string, url: string): Promise<{ name: string; host: string; port: number; version: string }> {
  validateServerName(name);
  const { host, port } = parseUrl(url);
  const admin = connectAdmin(url);
  let version: string;
  try {
    const [me] = await admin<{ super: boolean; createrole: boolean; createdb: boolean; version: string }[]>`
      select rolsuper as super, rolcreaterole as createrole, rolcreatedb as createdb,
             current_setting('server_version') as version
      from pg_roles where rolname = current_user`;
    if (!me || !(me.super || (me.createrole && me.createdb))) {
      throw new SiloError(`the role in that URL can neither create roles nor databases on ${host}:${port}`);
    }
    await hardenServer(admin);
    version = me.version;
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
    reg.servers[name] = { kind: 'external', host, port };
  });
  return { name, host, port, version };
}

/** Run `fn` with an admin connection to one database of a server (e.g. a tenant's own). */
export async function withAdminOn<T>(cfg: SiloConfig, server: string, database: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = connectAdmin(adminUrl(cfg, server), database);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Does the server answer a query right now? Undefined if it does, else why not. */
export async function serverProblem(cfg: SiloConfig, name: string, timeoutS = 2): Promise<string | undefined> {
  let url: string;
  try {
    url = adminUrl(cfg, name);
  } catch (err) {
    return (err as Error).message;
  }
  return connectionProblem(postgres(url, { max: 1, connect_timeout: timeoutS, idle_timeout: 1, onnotice: () => {}, connection: { application_name: 'silo-status' } }));
}
