/**
 * Scenario 7, secrets and privileges. No password (tenant roles, server admins) in any
 * log, in `pm2 show` / `pm2 env` / `pm2 jlist`, in silo's output or error messages, in
 * the rendered proxy configs, or on a command line. Secret files are 0600 in 0700
 * folders. A worker's environment (its /proc environ and what PM2 holds for it) names its
 * own password file and no other tenant's. A tenant role reaches no other database and
 * cannot escalate.
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { startStack } from '../helpers/stack.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { parsePgUrl, pgOptions } from '../../src/contract/pg-connect.js';
import { pm2Cli, printFigures, send, serverUrl, siloStatus, tenantPassword } from '../helpers/resilience.js';

t.setTimeout(170_000);

function walk(dir: string): string[] {
  let out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

await t.test('secrets stay in their files; tenant roles stay in their databases', async (t) => {
  const stack = await startStack(t);
  const pg2 = await startTestPostgres(t);
  const added = await stack.cli(['server', 'add', 'db2', pg2.adminUrl]);
  t.equal(added.code, 0, added.stderr);
  const created = await stack.cli(['tenant', 'create', 'client3', '--server', 'db2']);
  t.equal(created.code, 0, created.stderr);
  const TENANTS = ['client1', 'client2', 'client3'];
  const passwords = new Map(TENANTS.map((x) => [x, tenantPassword(stack, x)]));
  const adminPasswords = ['local', 'db2'].map((s) => decodeURIComponent(new URL(serverUrl(stack, s)).password));
  // The dump roles' passwords (pg_dump logs in as them) are secrets too.
  const dumpPasswords = TENANTS.map((x) => readFileSync(join(stack.home, 'secrets', 'dump', `${x}.password`), 'utf8').trim());
  const secrets = [...passwords.values(), ...adminPasswords, ...dumpPasswords];
  t.ok(secrets.every((s) => s.length >= 16), 'every secret is long enough to be unmistakable');

  // Some traffic, including errors, so the logs have something to say.
  for (const x of TENANTS) {
    await send(stack.httpPort, `${x}.localhost`, '/api/polls');
    await send(stack.httpPort, `${x}.localhost`, '/api/polls', { method: 'POST', body: '{"bad json' });
    await send(stack.workerSocket(x), 'wrong.localhost', '/api/tenant');
  }

  // Everything that is printed or written, except the secret files themselves.
  const texts: [string, string][] = [];
  const status = await siloStatus(stack);
  texts.push(['silo status --json', status.raw]);
  for (const args of [['tenant', 'list', '--json'], ['server', 'list', '--json'], ['status']]) {
    const r = await stack.cli(args);
    texts.push([`silo ${args.join(' ')}`, r.stdout + r.stderr]);
  }
  // Error messages that are about credentials.
  const wrongPassword = 'Wr0ngPassw0rd-' + 'x'.repeat(12);
  const errorRuns: [string, string[], NodeJS.ProcessEnv?][] = [
    ['server add with a wrong password', ['server', 'add', 'bad1', `postgres://postgres:${wrongPassword}@127.0.0.1:${pg2.port}/postgres`]],
    ['server add to a closed port with a real password', ['server', 'add', 'bad2', serverUrl(stack, 'db2').replace(`:${pg2.port}/`, ':1/')]],
    ['server add with SILO_DEBUG=1', ['server', 'add', 'bad3', `postgres://postgres:${wrongPassword}@127.0.0.1:${pg2.port}/postgres`], { SILO_DEBUG: '1' }],
    ['server add re-registering db2 elsewhere', ['server', 'add', 'db2', serverUrl(stack, 'db2').replace('127.0.0.1', 'localhost')]],
    ['an unparsable admin URL', ['server', 'add', 'bad4', `postgres://postgres:${wrongPassword}@[bad/postgres`]],
    ['up with SILO_DATABASE_URL unreachable', ['status'], { SILO_DATABASE_URL: `postgres://postgres:${wrongPassword}@127.0.0.1:1/postgres` }],
  ];
  let errorsSeen = 0;
  for (const [what, args, env] of errorRuns) {
    const r = await stack.cli(args, env);
    if (r.code !== 0) errorsSeen++;
    texts.push([`error: ${what} (exit ${r.code})`, r.stdout + r.stderr]);
  }
  t.ok(errorsSeen >= 4, `the error cases failed as they should (${errorsSeen})`);
  // PM2's own views.
  const jlist = await pm2Cli(stack, ['jlist']);
  texts.push(['pm2 jlist', jlist.stdout + jlist.stderr]);
  // PM2 may print a banner or a warning before the JSON.
  const procs = JSON.parse(jlist.stdout.slice(jlist.stdout.indexOf('[{'), jlist.stdout.lastIndexOf('}]') + 2)) as { name: string; pm_id: number; pid: number; pm2_env: Record<string, unknown> & { env?: Record<string, string> } }[];
  for (const p of procs) {
    const show = await pm2Cli(stack, ['show', p.name]);
    texts.push([`pm2 show ${p.name}`, show.stdout + show.stderr]);
    const env = await pm2Cli(stack, ['env', String(p.pm_id)]);
    texts.push([`pm2 env ${p.pm_id} (${p.name})`, env.stdout + env.stderr]);
  }
  // Files: silo's logs, PM2's logs and dump, rendered proxy configs, the registry.
  const files = [
    ...walk(join(stack.home, 'logs')),
    ...walk(join(stack.home, 'proxy')),
    ...walk(stack.env.PM2_HOME!).filter((f) => !/\.(sock|pid)$/.test(f) && statSync(f).size < 50_000_000),
    join(stack.home, 'registry.json'),
  ];
  for (const f of files) texts.push([f.replace(stack.home, '$SILO_HOME'), readFileSync(f, 'latin1')]);
  // Command lines of every process of this stack.
  for (const p of procs) {
    try {
      texts.push([`/proc/${p.pid}/cmdline (${p.name})`, readFileSync(`/proc/${p.pid}/cmdline`, 'latin1')]);
    } catch {
      // gone
    }
  }

  const leaks: string[] = [];
  for (const [where, text] of texts) {
    for (const s of secrets) if (text.includes(s)) leaks.push(`${where} holds ${passwords.has(s) ? 'a tenant password' : [...passwords].find(([, v]) => v === s)?.[0] ?? 'an admin password'}`);
    if (text.includes(wrongPassword)) leaks.push(`${where} repeats the password of a URL it was given`);
  }
  t.same(leaks, [], `no secret in ${texts.length} outputs and files`);

  // Secret files 0600, their folders 0700; under root each tenant's password belongs to its
  // own Unix user (0400) and the folders can be entered, not listed (0711).
  const root = process.getuid?.() === 0;
  const modes: string[] = [];
  for (const dir of ['secrets', 'secrets/tenants', 'secrets/servers']) {
    const m = statSync(join(stack.home, dir)).mode & 0o777;
    if (m !== (root ? 0o711 : 0o700)) modes.push(`${dir} is 0${m.toString(8)}`);
  }
  const secretFiles = walk(join(stack.home, 'secrets'));
  for (const f of secretFiles) {
    const m = statSync(f).mode & 0o777;
    const want = root && f.includes('/secrets/tenants/') ? 0o400 : 0o600;
    if (m !== want) modes.push(`${f.replace(stack.home, '$SILO_HOME')} is 0${m.toString(8)}`);
  }
  t.ok(secretFiles.length >= 5, `${secretFiles.length} secret files`);
  t.same(modes, [], root ? 'secret folders 0711, tenant passwords 0400, other files 0600' : 'secret folders 0700, files 0600');

  // A worker's environment: its own password file, nothing of anyone else, no secrets.
  const envProblems: string[] = [];
  const passwordFile = (x: string) => join(stack.home, 'secrets', 'tenants', `${x}.password`);
  const checkEnv = (where: string, env: Record<string, string>, self?: string) => {
    for (const [k, v] of Object.entries(env)) {
      if (typeof v !== 'string') continue;
      for (const s of secrets) if (v.includes(s)) envProblems.push(`${where}: ${k} holds a secret`);
      for (const other of TENANTS.filter((x) => x !== self)) if (v.includes(passwordFile(other))) envProblems.push(`${where}: ${k} names ${other}'s password file`);
      // Workers get their configuration from their own app definition only (the proxy and
      // postgres apps legitimately have SILO_* settings of their own).
      if (self && /^(SILO_|PG[A-Z]|DATABASE_URL$)|PASSWORD$|SECRET|TOKEN/.test(k)) envProblems.push(`${where}: has ${k}`);
      if (k.includes('secrets/servers') || v.includes(join(stack.home, 'secrets', 'servers'))) envProblems.push(`${where}: ${k} points at the admin credentials`);
    }
    if (self && env.DB_PASSWORD_FILE !== passwordFile(self)) envProblems.push(`${where}: DB_PASSWORD_FILE is ${env.DB_PASSWORD_FILE}`);
    if (!self && env.DB_PASSWORD_FILE) envProblems.push(`${where}: has DB_PASSWORD_FILE`);
  };
  // A process's environment as it started. PM2's cluster mode hands a worker its app's
  // environment as one JSON variable, pm2_env, which the worker unpacks at start.
  const procEnv = (pid: number): Record<string, string> => {
    const env: Record<string, string> = Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    if (env.pm2_env) {
      const packed = JSON.parse(env.pm2_env) as Record<string, unknown> & { env?: Record<string, string> };
      for (const [k, v] of Object.entries({ ...packed, ...(packed.env ?? {}) })) if (typeof v === 'string' && !(k in env)) env[k] = v;
    }
    return env;
  };
  for (const p of procs) {
    const self = p.name.startsWith('tenant-') ? p.name.slice('tenant-'.length) : undefined;
    checkEnv(`/proc/${p.pid}/environ (${p.name})`, procEnv(p.pid), self);
    // What PM2 keeps for the app: pm2_env (its own keys are PM2's) and pm2_env.env.
    const flat = Object.fromEntries(Object.entries(p.pm2_env).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    checkEnv(`pm2_env (${p.name})`, { ...flat, ...(p.pm2_env.env ?? {}) }, self);
  }
  t.ok(procs.filter((p) => p.name.startsWith('tenant-')).length === 3, 'three workers inspected');
  t.same(envProblems, [], 'each worker holds its own password file only, and no secret');

  // Tenant roles: no other database, no escalation.
  const refused: string[] = [];
  const allowed: string[] = [];
  // The embedded server is on its Unix socket (the registry's host is its folder), db2 on TCP.
  const localServer = parsePgUrl(serverUrl(stack, 'local'));
  const asTenant = (tenant: string, database: string, port: number) =>
    postgres({ ...pgOptions({ host: port === pg2.port ? '127.0.0.1' : localServer.host, port }), database, username: tenant, password: passwords.get(tenant)!, max: 1, onnotice: () => {}, connect_timeout: 5 });
  const localPort = localServer.port;
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      allowed.push(what);
    } catch (err) {
      refused.push(`${what}: ${(err as { code?: string }).code}`);
    }
  };
  // Connections.
  const reach: [string, string, number][] = [
    ['client1', 'client2', Number(localPort)],
    ['client1', 'postgres', Number(localPort)],
    ['client1', 'template1', Number(localPort)],
    ['client2', 'client1', Number(localPort)],
    ['client3', 'postgres', pg2.port],
    ['client3', 'template1', pg2.port],
    ['client1', 'client3', pg2.port],
    ['client3', 'client1', Number(localPort)],
  ];
  for (const [tenant, db, port] of reach) {
    await attempt(`${tenant} connects to ${db} on ${port === pg2.port ? 'db2' : 'local'}`, async () => {
      const sql = asTenant(tenant, db, port);
      try {
        await sql`select 1`;
      } finally {
        await sql.end({ timeout: 1 });
      }
    });
  }
  // Escalation from inside its own database.
  const own = asTenant('client1', 'client1', Number(localPort));
  t.teardown(() => own.end({ timeout: 1 }));
  t.same(await own`select current_user as u`, [{ u: 'client1' }], 'client1 reaches its own database');
  const escalations: [string, string][] = [
    ['create role', 'create role intruder login superuser'],
    ['create database', 'create database intruder'],
    ['read pg_authid', 'select rolname, rolpassword from pg_authid'],
    ['become superuser', 'alter role client1 superuser'],
    ['grant itself createdb', 'alter role client1 createdb'],
    ['grant itself createrole', 'alter role client1 createrole'],
    ['lift its connection limit', 'alter role client1 connection limit -1'],
    ['set role client2', 'set role client2'],
    ['set session authorization', 'set session authorization client2'],
    ['grant client2 to itself', 'grant client2 to client1'],
    ['read a server file', "select pg_read_file('/etc/passwd')"],
    ['list a server directory', "select pg_ls_dir('.')"],
    ['copy to a server file', "copy (select 1) to '/tmp/silo-intruder'"],
    ['copy from a program', "copy polls from program 'id'"],
    ['import a large object from a file', "select lo_import('/etc/passwd')"],
    ['alter system', "alter system set log_statement = 'all'"],
    ['change a server setting', "set log_statement = 'all'"],
    ['create an untrusted function language', "create function intruder() returns int language c as '/bin/true', 'main'"],
    ['create an extension', 'create extension if not exists dblink'],
    ['load a library', "load '/tmp/x.so'"],
    ["list every database (other tenants' names)", 'select datname from pg_database'],
    ["list every role (other tenants' names)", 'select rolname from pg_roles'],
    ['terminate another backend', "select pg_terminate_backend(pid) from pg_stat_activity where usename <> current_user and pid <> pg_backend_pid() and usename is not null"],
    ['reload the server config', 'select pg_reload_conf()'],
  ];
  for (const [what, stmt] of escalations) {
    await attempt(`client1: ${what}`, async () => {
      const r = await own.unsafe(stmt);
      // A terminate that found nothing it may touch returns rows of false: refused in effect.
      if (what === 'terminate another backend' && (r as unknown as { pg_terminate_backend: boolean }[]).every((x) => !x.pg_terminate_backend)) throw Object.assign(new Error('nothing terminated'), { code: 'none' });
    });
  }
  // What another tenant's sessions look like from here: no query text.
  await send(stack.httpPort, 'client2.localhost', '/api/polls');
  // pg_stat_activity itself is closed to tenant roles (it names every session's role and database).
  const activity = await own<{ usename: string | null; query: string | null }[]>`select usename, query from pg_stat_activity where usename is not null and usename <> current_user`.catch((err: { code?: string }) => {
    if (err.code === '42501') return [];
    throw err;
  });
  const visible = activity.filter((a) => a.query && a.query !== '<insufficient privilege>');

  for (const r of refused) t.comment(`refused: ${r}`);
  printFigures(t, 'secrets', {
    sent: texts.length + reach.length + escalations.length,
    failed: leaks.length + modes.length + envProblems.length + allowed.length + visible.length,
    wrongTenant: allowed.filter((a) => / connects to /.test(a)).length,
    outputsSearched: texts.length,
    secretsSearched: secrets.length,
    secretFiles: secretFiles.length,
    workersInspected: procs.filter((p) => p.name.startsWith('tenant-')).length,
    refused: refused.length,
    allowed: allowed.length,
  });
  t.same(allowed, [], 'every cross-database connection and escalation is refused');
  t.same(visible.map((a) => a.usename), [], "other roles' query text is hidden");
});
