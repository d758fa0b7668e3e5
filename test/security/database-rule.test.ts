/**
 * Invariant 11 in the sources: silo opens a session in a tenant's database only through
 * src/postgres/tenant-session.ts, whose one superuser session is `hardenTenantDatabase`.
 * Read as text, so a new call site that opens an admin connection into a tenant database
 * (the bug behind issue 16's first finding) fails here before any test runs it.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const src = join(root, 'src');
const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(src, f));
const text = new Map(files.map((f) => [relative(root, f), readFileSync(f, 'utf8')]));

/** The argument lists of every call of `fn` (balanced parentheses). */
function calls(source: string, fn: string): string[] {
  const out: string[] = [];
  for (let i = source.indexOf(`${fn}(`); i >= 0; i = source.indexOf(`${fn}(`, i + 1)) {
    if (/[\w.]/.test(source[i - 1] ?? '') && source.slice(i - 9, i) !== 'function ') continue;
    let depth = 0;
    let j = i + fn.length;
    for (; j < source.length; j++) {
      if (source[j] === '(') depth++;
      else if (source[j] === ')' && --depth === 0) break;
    }
    out.push(source.slice(i + fn.length + 1, j));
  }
  return out;
}

/** Commas at the top level of an argument list: how many arguments it has, minus one. */
function topLevelCommas(args: string): number {
  let depth = 0;
  let n = 0;
  for (const ch of args) {
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) n++;
  }
  return n;
}

t.test('connectAdmin takes a URL and pool settings: the admin never connects to a database chosen by the caller', async (t) => {
  let seen = 0;
  for (const [file, source] of text) {
    for (const args of calls(source, 'connectAdmin')) {
      seen++;
      t.ok(topLevelCommas(args.replace(/,\s*$/, '')) <= 1, `${file}: connectAdmin(${args.slice(0, 60)}): a URL and options`);
      t.notMatch(args, /database/, `${file}: names no database`);
    }
  }
  t.ok(seen >= 3, `${seen} call sites looked at`);
  const def = text.get('src/postgres/admin.ts')!;
  const options = def.slice(def.indexOf('export interface AdminPoolOptions'), def.indexOf('}', def.indexOf('export interface AdminPoolOptions')));
  t.notMatch(options, /database/, 'its options have no database');
  t.match(def, /database: p\.database/, "it connects to the database its URL names (the server's maintenance database)");
});

t.test('only the known modules open PostgreSQL connections, and only tenant-session.ts names a database', async (t) => {
  const allowed = new Map([
    ['src/postgres/admin.ts', 'the admin connection, to the database its URL names'],
    ['src/postgres/tenant-session.ts', 'every session in a tenant database'],
    ['src/servers/servers.ts', '"does the server answer", to the admin URL'],
    ['src/worker/db.ts', "a worker's pool: its own tenant's database as its own role"],
  ]);
  for (const [file, source] of text) {
    const imports = /^import\s+postgres\b[^;]*from\s+'postgres'/m.test(source);
    if (imports) t.ok(allowed.has(file), `${file} imports postgres.js${allowed.has(file) ? `: ${allowed.get(file)}` : ' (open tenant databases through src/postgres/tenant-session.ts)'}`);
    if (!imports || file === 'src/postgres/tenant-session.ts' || file === 'src/worker/db.ts' || file === 'src/postgres/admin.ts') continue;
    for (const args of calls(source, 'postgres')) t.notMatch(args, /\bdatabase\b/, `${file}: postgres(...) names no database`);
  }
});

t.test('the one superuser session in a tenant database is hardenTenantDatabase, pinned, revoking and granting only', async (t) => {
  const session = text.get('src/postgres/tenant-session.ts')!;
  t.equal((session.match(/parsePgUrl\(adminUrl\)/g) ?? []).length, 1, 'one session made from an admin URL');
  const postgresCalls = calls(session, 'postgres');
  t.ok(postgresCalls.length >= 2 && postgresCalls.every((a) => /\.\.\.PINNED/.test(a) || /application_name: 'silo-control' \}/.test(a)), 'every session but connectAs (the tenant\'s own, for its migrations) is pinned');
  t.equal(postgresCalls.filter((a) => !/\.\.\.PINNED/.test(a)).length, 1, 'one unpinned: connectAs');
  const body = session.slice(session.indexOf('export async function hardenTenantDatabase'), session.indexOf('export async function hardeningProblems'));
  const statements = [...body.matchAll(/tx\.unsafe\(`(\w+)/g)].map((m) => m[1]);
  t.same([...new Set(statements)].sort(), ['grant', 'revoke'], 'its statements are REVOKE and GRANT');
  t.notMatch(body, /tx`|\.unsafe\(`select/i, 'it reads nothing');
  t.match(session, /search_path: 'pg_catalog, pg_temp'/);
  t.match(session, /role: 'none'/);
  for (const [file, source] of text) {
    if (file === 'src/postgres/tenant-session.ts') continue;
    t.notMatch(source, /parseUrl\(adminUrl\([^)]*\)\)\s*;?\s*\n?\s*return \{[^}]*database/, `${file}: builds no login from the admin URL`);
    t.notMatch(source, /adminTarget|withAdminOn/, `${file}: no admin session helper for a tenant database`);
  }
});
