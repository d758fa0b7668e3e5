/**
 * Is a stack consistent with its registry? Every registered tenant is ready, has its
 * role and database (marked as silo's), its password file, exactly one online PM2 app
 * and answers through the proxy as itself; every tenant named in `gone` has none of
 * these and answers 404; no lock, break, temp or staging file is left behind. Returns
 * the list of problems (empty when consistent), so a test can print them all at once.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { spawn } from 'node:child_process';
import { siloBin } from './silo-home.js';
import type { Stack } from './stack.js';
import { pm2Cli, send, serverUrl } from './resilience.js';
import { urlOptions } from './postgres.js';

interface Pm2App {
  name: string;
  pm2_env?: { status?: string; namespace?: string };
}

export async function inconsistencies(stack: Stack, gone: string[] = []): Promise<string[]> {
  const problems: string[] = [];
  const reg = JSON.parse(readFileSync(join(stack.home, 'registry.json'), 'utf8'));
  const tenants = Object.keys(reg.tenants) as string[];
  for (const name of tenants) if (reg.tenants[name].state !== 'ready') problems.push(`${name}: registry state ${reg.tenants[name].state}`);

  const admin = postgres({ ...urlOptions(serverUrl(stack)),  max: 1, onnotice: () => {} });
  try {
    const dbs = new Map((await admin`select datname, shobj_description(oid, 'pg_database') as c from pg_database`).map((r) => [r.datname as string, r.c as string | null]));
    const roles = new Map((await admin`select rolname, shobj_description(oid, 'pg_authid') as c from pg_roles`).map((r) => [r.rolname as string, r.c as string | null]));
    for (const name of tenants) {
      if (dbs.get(name) !== 'silo tenant') problems.push(`${name}: database ${dbs.has(name) ? 'unmarked' : 'missing'}`);
      if (roles.get(name) !== 'silo tenant') problems.push(`${name}: role ${roles.has(name) ? 'unmarked' : 'missing'}`);
    }
    for (const name of gone) {
      if (dbs.has(name)) problems.push(`${name}: database left behind`);
      if (roles.has(name)) problems.push(`${name}: role left behind`);
    }
  } finally {
    await admin.end();
  }

  const secrets = join(stack.home, 'secrets', 'tenants');
  for (const name of tenants) if (!existsSync(join(secrets, `${name}.password`))) problems.push(`${name}: password file missing`);
  for (const name of gone) if (existsSync(join(secrets, `${name}.password`))) problems.push(`${name}: password file left behind`);

  const jlist = await pm2Cli(stack, ['jlist']);
  // pm2 may print a line of its own (a banner, a warning) before the JSON.
  const json = jlist.stdout.split('\n').find((l) => l.startsWith('[')) ?? '[]';
  const apps = (JSON.parse(json) as Pm2App[]).filter((a) => a.name.startsWith('tenant-'));
  for (const name of tenants) {
    const mine = apps.filter((a) => a.name === `tenant-${name}`);
    if (mine.length !== 1) problems.push(`${name}: ${mine.length} PM2 apps`);
    else if (mine[0]!.pm2_env?.status !== 'online') problems.push(`${name}: PM2 app ${mine[0]!.pm2_env?.status}`);
  }
  for (const a of apps) if (!tenants.includes(a.name.slice('tenant-'.length))) problems.push(`${a.name}: a PM2 app for no registered tenant`);

  for (const name of tenants) {
    const a = await send(stack.httpPort, `${name}.localhost`, '/api/tenant');
    if (a.status !== 200 || a.text !== JSON.stringify({ tenant: name })) problems.push(`${name}: through the proxy ${a.status || a.error} ${a.text.slice(0, 60)}`);
  }
  for (const name of gone) {
    const a = await send(stack.httpPort, `${name}.localhost`, '/api/tenant');
    if (a.status !== 404) problems.push(`${name}: through the proxy ${a.status || a.error} (want 404)`);
  }

  const leftovers = readdirSync(stack.home).filter((f) => /\.lock|\.break-|\.tmp$/.test(f));
  if (leftovers.length) problems.push(`left in SILO_HOME: ${leftovers.join(', ')}`);
  const proxyDir = join(stack.home, 'proxy', 'nginx');
  if (existsSync(proxyDir)) {
    const staging = readdirSync(proxyDir).filter((f) => f.startsWith('staging'));
    if (staging.length) problems.push(`staging folders left: ${staging.join(', ')}`);
  }
  return problems;
}

/** The final backups of a removed tenant (`backups/<name>/*.json` of kind final). */
export function finalBackups(stack: Stack, name: string): string[] {
  const dir = join(stack.home, 'backups', name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .filter((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')).kind === 'final');
}

/** Run `silo <args>` and SIGKILL it after `ms` (a crash at a random moment); its exit. */
export function cliKilledAfter(stack: Stack, args: string[], ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [siloBin, ...args], { env: stack.env, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** The line a command prints when it waits for another command's lock. */
export const WAITED = /waiting for another silo command/;
