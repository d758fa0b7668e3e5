/**
 * How every silo process (a worker, the control plane) reaches a PostgreSQL server, so
 * that nobody can stand in for it (invariant 12):
 *
 * - The embedded server is reached over its Unix socket, in a folder only the server's
 *   user can write: `host` is that folder (an absolute path), `port` names the socket
 *   (`.s.PGSQL.<port>`). A local user cannot bind there, even while the server is down.
 * - An external server may be reached over TLS: `sslmode` `require` (encrypted, not
 *   verified), `verify-ca` (signed by the CA) or `verify-full` (and for this host name),
 *   with `sslrootcert` naming the CA file (else the system's CAs).
 * - A server that asks for the password in clear text (or as MD5, whose challenge the
 *   asker picks) is refused before anything is sent: postgres.js 3 answered it, so
 *   anyone who bound the port of a restarting server collected it. SCRAM reveals no
 *   password and proves the server knows it.
 *
 * In a URL (the admin URLs under secrets/servers/) the socket folder is the libpq form
 * `?host=/path`, and TLS is `?sslmode=...&sslrootcert=...`: `psql "<url>"` works with it.
 */
import { readFileSync } from 'node:fs';

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
export const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

export interface PgAddress {
  /** a host name or address, or the absolute path of the folder holding the server's socket */
  host: string;
  port: number;
  sslmode?: SslMode;
  /** CA certificate file (PEM) for verify-ca / verify-full; default: the system's CAs */
  sslrootcert?: string;
}

export interface PgUrlParts extends PgAddress {
  user: string;
  password: string;
  database: string;
}

export const isSocketFolder = (host: string) => host.startsWith('/');

/** Parse `postgres://user:pass@host:port/db?host=/dir&sslmode=...&sslrootcert=...`. */
export function parsePgUrl(url: string): PgUrlParts {
  const u = new URL(url);
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw new Error('not a postgres:// URL');
  const q = u.searchParams;
  const unknown = [...q.keys()].filter((k) => !['host', 'sslmode', 'sslrootcert'].includes(k));
  if (unknown.length) throw new Error(`unsupported URL parameter ${unknown.join(', ')} (silo understands host, sslmode, sslrootcert)`);
  const sslmode = (q.get('sslmode') ?? undefined) as SslMode | undefined;
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) throw new Error(`sslmode must be one of ${SSL_MODES.join(', ')}`);
  const socketHost = q.get('host');
  if (socketHost !== null && !isSocketFolder(socketHost)) throw new Error('the host parameter must be an absolute path (a socket folder)');
  return {
    host: socketHost ?? (u.hostname || '127.0.0.1'),
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)) || 'postgres',
    ...(sslmode ? { sslmode } : {}),
    ...(q.get('sslrootcert') ? { sslrootcert: q.get('sslrootcert')! } : {}),
  };
}

/** The URL of these parts (the inverse of parsePgUrl). */
export function formatPgUrl(p: PgUrlParts): string {
  const socket = isSocketFolder(p.host);
  const u = new URL(`postgres://${socket ? 'localhost' : p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}/${encodeURIComponent(p.database)}`);
  u.username = encodeURIComponent(p.user);
  u.password = encodeURIComponent(p.password);
  if (socket) u.searchParams.set('host', p.host);
  if (p.sslmode) u.searchParams.set('sslmode', p.sslmode);
  if (p.sslrootcert) u.searchParams.set('sslrootcert', p.sslrootcert);
  return u.toString();
}

/**
 * postgres.js options for an address: the socket folder or host, TLS when asked for, and
 * `require_auth: 'scram-sha-256'` (postgres.js 4.2, as libpq 16's option): a server that
 * asks for a clear-text or MD5 password, or for none at all, is refused before anything
 * is sent (AUTH_METHOD_REFUSED). SCRAM also makes the server prove it knows the
 * password, so a stand-in cannot complete a login. Spread into `postgres({...})`.
 */
export function pgOptions(addr: PgAddress): {
  host: string;
  port: number;
  ssl: false | 'require' | Record<string, unknown>;
  require_auth: string;
} {
  let ssl: false | 'require' | Record<string, unknown> = false;
  if (addr.sslmode === 'require') ssl = 'require';
  else if (addr.sslmode === 'verify-ca' || addr.sslmode === 'verify-full') {
    ssl = {
      rejectUnauthorized: true,
      ...(addr.sslrootcert ? { ca: readFileSync(addr.sslrootcert) } : {}),
      ...(addr.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  }
  // A host with a slash is the folder of the server's Unix socket (.s.PGSQL.<port>).
  return { host: addr.host, port: addr.port, ssl, require_auth: REQUIRED_AUTH };
}

/** The one authentication method silo's clients answer. */
export const REQUIRED_AUTH = 'scram-sha-256';

/** libpq's environment for the same address (pg_dump, pg_restore, psql). */
export function libpqEnv(addr: PgAddress): Record<string, string> {
  return {
    PGHOST: addr.host,
    PGPORT: String(addr.port),
    ...(addr.sslmode ? { PGSSLMODE: addr.sslmode } : {}),
    ...(addr.sslrootcert ? { PGSSLROOTCERT: addr.sslrootcert } : {}),
  };
}
