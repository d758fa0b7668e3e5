/**
 * Bearer tokens of the control API: `silo token create | list | revoke`, and the one check
 * every request (API or console page) goes through.
 *
 * A token is 32 random bytes (base64url, `silo_` in front so a leaked one is recognisable
 * in a log or a repository scan). It is shown once, at creation; the file keeps only its
 * sha256. A plain sha256 is enough here: the secret has 256 bits of entropy, so nobody
 * can search the hash's preimage (slow hashes like scrypt exist for guessable passwords),
 * and a fast hash keeps each request's check cheap. Comparison is constant-time.
 *
 * The file is $SILO_HOME/secrets/control-tokens.json (0600), replaced atomically under
 * its own lock, read on every check so a revocation takes effect on the next request.
 */
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { writeFileAtomic } from '../common/atomic-file.js';
import { NotFoundError, SiloError } from '../common/errors.js';
import { homePaths } from '../common/paths.js';
import { validateTenantName } from '../common/names.js';
import { withLock } from '../registry/lock.js';

export type Scope = 'read' | 'write';
export const SCOPES: readonly Scope[] = ['read', 'write'];

/** What is recorded of a token (never its secret). */
export interface TokenInfo {
  id: string;
  scope: Scope;
  /** set: the token acts on this tenant only */
  tenant?: string;
  created: string;
  /** a note to say whose it is (optional) */
  name?: string;
}

interface TokenRecord extends TokenInfo {
  sha256: string;
}

interface TokenFile {
  tokens: TokenRecord[];
}

const PREFIX = 'silo_';
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

function readTokens(home: string): TokenFile {
  try {
    const parsed = JSON.parse(readFileSync(homePaths(home).controlTokens, 'utf8')) as TokenFile;
    return { tokens: Array.isArray(parsed.tokens) ? parsed.tokens : [] };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tokens: [] };
    throw new SiloError(`cannot read the control tokens (${homePaths(home).controlTokens}): ${(err as Error).message}`);
  }
}

async function updateTokens<T>(home: string, change: (f: TokenFile) => T): Promise<T> {
  const file = homePaths(home).controlTokens;
  const dir = dirname(file);
  const dirMode = process.getuid?.() === 0 ? 0o711 : 0o700; // as src/common/secrets.ts
  mkdirSync(dir, { recursive: true, mode: dirMode });
  return withLock(`${file}.lock`, async () => {
    const f = readTokens(home);
    const result = change(f);
    writeFileAtomic(file, JSON.stringify(f, null, 2) + '\n', 0o600);
    chmodSync(file, 0o600);
    return result;
  });
}

const info = (r: TokenRecord): TokenInfo => ({ id: r.id, scope: r.scope, ...(r.tenant ? { tenant: r.tenant } : {}), created: r.created, ...(r.name ? { name: r.name } : {}) });

export function validateScope(scope: string): Scope {
  if (!SCOPES.includes(scope as Scope)) throw new SiloError(`--scope is read or write, not "${scope.slice(0, 20)}"`);
  return scope as Scope;
}

/** Make a token; the only time its secret exists outside the caller is this return value. */
export async function createToken(home: string, opts: { scope: string; tenant?: string; name?: string }): Promise<{ token: string; info: TokenInfo }> {
  const scope = validateScope(opts.scope);
  if (opts.tenant !== undefined) validateTenantName(opts.tenant);
  if (opts.name !== undefined && !/^[\x20-\x7e]{1,80}$/.test(opts.name)) throw new SiloError('--name is up to 80 printable characters');
  const token = PREFIX + randomBytes(32).toString('base64url');
  const record: TokenRecord = {
    id: 'tok_' + randomBytes(6).toString('hex'),
    scope,
    ...(opts.tenant ? { tenant: opts.tenant } : {}),
    created: new Date().toISOString(),
    ...(opts.name ? { name: opts.name } : {}),
    sha256: hash(token),
  };
  await updateTokens(home, (f) => f.tokens.push(record));
  return { token, info: info(record) };
}

export function listTokens(home: string): TokenInfo[] {
  return readTokens(home).tokens.map(info);
}

export async function revokeToken(home: string, id: string): Promise<TokenInfo> {
  return updateTokens(home, (f) => {
    const i = f.tokens.findIndex((r) => r.id === id);
    if (i < 0) throw new NotFoundError(`no token with id "${id.slice(0, 40)}" (silo token list)`);
    return info(f.tokens.splice(i, 1)[0]!);
  });
}

/**
 * The token a bearer string stands for, or undefined (unknown, revoked, malformed).
 * Accepts the raw token or a whole `Authorization` header value ("Bearer <token>").
 */
export function verifyToken(home: string, bearer: string | undefined): TokenInfo | undefined {
  if (!bearer) return undefined;
  const token = bearer.replace(/^Bearer\s+/i, '').trim();
  if (!token.startsWith(PREFIX) || token.length > 200) return undefined;
  const presented = Buffer.from(hash(token), 'hex');
  let found: TokenRecord | undefined;
  for (const r of readTokens(home).tokens) {
    const stored = Buffer.from(r.sha256, 'hex');
    if (stored.length === presented.length && timingSafeEqual(stored, presented)) found = r;
  }
  return found && info(found);
}

/** What a request needs: a scope, and the tenant it acts on (none: the fleet). */
export interface Need {
  scope: Scope;
  tenant?: string;
}

/**
 * Why `token` may not do what `need` says, or undefined when it may. A write token may
 * read; a tenant's token acts on that tenant only, never on the fleet (list, migrate all).
 */
export function refusal(token: TokenInfo, need: Need): string | undefined {
  if (need.scope === 'write' && token.scope !== 'write') return `token ${token.id} has read scope; this needs write`;
  if (token.tenant !== undefined && need.tenant !== token.tenant) {
    return need.tenant === undefined ? `token ${token.id} is limited to tenant ${token.tenant}; this acts on every tenant` : `token ${token.id} is limited to tenant ${token.tenant}, not ${need.tenant}`;
  }
  return undefined;
}

export function allows(token: TokenInfo, need: Need): boolean {
  return refusal(token, need) === undefined;
}
