/**
 * The hostile-tenant harness (issue 16): a stack started as root, so every tenant's
 * worker runs as its own Unix user, with the sample app and its data on `client1` and
 * `client2`, and the hostile app (./evil-app: it runs whatever JavaScript it is sent)
 * deployed to tenant `evil` only, with the real `silo deploy <dir> --tenant evil`.
 *
 * `runAsEvil(js)` runs `js` as the body of an async function inside evil's worker (as its
 * uid, with its database pool `sql`, `postgres`, `require`, `siloRequire`, `process`, `env`); the
 * answer is `{result}` or `{error, code}`. `figures(t, attack, outcome)` prints the
 * greppable `# figures: attack=<name> outcome=<outcome>` line every attack ends with.
 *
 * Not root: these attacks are about per-tenant Unix users, so a file using this helper
 * is skipped (`hostileStack` returns undefined after printing why).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import postgres from 'postgres';
import { startStack, type Stack } from '../helpers/stack.js';
import { serverUrl } from '../helpers/resilience.js';
import { lookupUser } from '../../src/isolation/os-users.js';
import { tenantUserName } from '../../src/isolation/tenant-user.js';
import { urlOptions } from '../helpers/postgres.js';

export const evilAppDir = fileURLToPath(new URL('./evil-app/', import.meta.url));
export const EVIL = 'evil';

type Tap = { teardown(fn: () => unknown): void; comment(...a: unknown[]): void; skip?: unknown };

export type EvilAnswer<T = unknown> = { result: T; error?: undefined; code?: undefined } | { result?: undefined; error: string; code: string | null };

export interface HostileStack extends Stack {
  /** Run `js` inside evil's worker (an async function body); its JSON answer. */
  runAsEvil<T = unknown>(js: string): Promise<EvilAnswer<T>>;
  /** Run a superuser query in the server's `postgres` database (never in a tenant's). */
  asAdmin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T>;
  /** Is the role `name` a superuser now? */
  isSuperuser(name: string): Promise<boolean>;
  /** A tenant's Unix user (uid, gid) */
  unixUser(tenant: string): { uid: number; gid: number; name: string };
}

export function figures(t: { comment(...a: unknown[]): void }, attack: string, outcome: string, extra: Record<string, string | number> = {}): string {
  const rest = Object.entries(extra).map(([k, v]) => `${k}=${v}`);
  const line = [`figures: attack=${attack}`, `outcome=${outcome}`, ...rest].join(' ');
  t.comment(line);
  return line;
}

/** Root only: a stack with client1, client2 (sample data) and evil (the hostile app). */
export async function hostileStack(t: Tap, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<HostileStack | undefined> {
  if (process.getuid?.() !== 0) {
    t.comment('not root: the hostile-tenant suite needs per-tenant Unix users (run it as root)');
    return undefined;
  }
  const stack = await startStack(t, { env: opts.env });
  const created = await stack.cli(['tenant', 'create', EVIL]);
  if (created.code !== 0) throw new Error(`tenant create evil: ${created.stderr}`);
  const deployed = await stack.cli(['deploy', evilAppDir, '--tenant', EVIL]);
  if (deployed.code !== 0) throw new Error(`deploy evil-app: ${deployed.stderr || deployed.stdout}`);

  const runAsEvil = async <T>(js: string): Promise<EvilAnswer<T>> => {
    const r = await stack.http(`${EVIL}.${stack.domain}`, '/_evil', { method: 'POST', body: { js } });
    if (r.status !== 200) throw new Error(`evil's worker answered ${r.status}: ${r.text.slice(0, 300)}`);
    return r.json() as EvilAnswer<T>;
  };
  const asAdmin = async <T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> => {
    const sql = postgres({ ...urlOptions(serverUrl(stack)),  database: 'postgres', max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      return await fn(sql);
    } finally {
      await sql.end({ timeout: 2 });
    }
  };
  const hostile: HostileStack = {
    ...stack,
    runAsEvil,
    asAdmin,
    isSuperuser: (name) => asAdmin(async (sql) => (await sql<{ s: boolean }[]>`select rolsuper as s from pg_roles where rolname = ${name}`)[0]?.s === true),
    unixUser(tenant) {
      const name = tenantUserName(stack.home, tenant);
      const u = lookupUser(name);
      if (!u) throw new Error(`no Unix user ${name}`);
      return { uid: u.uid, gid: u.gid, name };
    },
  };
  const who = await runAsEvil<{ uid: number; app: string }>('return { uid: process.getuid() }');
  if (who.error !== undefined || who.result.uid !== hostile.unixUser(EVIL).uid) throw new Error(`evil's code does not run as its user: ${JSON.stringify(who)}`);
  return hostile;
}

/**
 * `env` arguments that drop NODE_OPTIONS: tap's process tracker puts its loader there for
 * every child, a file of the checkout's that another user cannot read when the checkout is
 * private (/root/silo), and a local stranger's node would fail on it before doing anything.
 */
export const NO_TAP_LOADER = ['-u', 'NODE_OPTIONS'];

/** Run a command as an unprivileged local user (uid/gid, no groups): status and output. */
export function runAsUser(user: { uid: number; gid: number }, cmd: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('env', [...NO_TAP_LOADER, 'setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', cmd, ...args], { encoding: 'utf8', input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export const projectDir = join(evilAppDir, '..', '..', '..');
