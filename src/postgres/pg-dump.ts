/**
 * pg_dump and pg_restore, run with a binary whose major version is at least the server's
 * (pg_dump refuses newer servers). Debian keeps one per major under /usr/lib/postgresql.
 * Passwords reach the child through its environment only, never argv (visible in ps).
 *
 * Neither runs as a superuser (invariant 11): pg_dump logs in as the tenant's dump role,
 * pg_restore as the tenant's role, both pinned like every session in a tenant database
 * (tenant-session.ts). `--no-subscriptions`: the dump role cannot read pg_subscription's
 * database column, and a tenant cannot create subscriptions anyway.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readdirSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { DUMP_PGOPTIONS, type DbLogin } from './tenant-session.js';
import { libpqEnv } from '../contract/pg-connect.js';

const run = promisify(execFile);

async function majorOf(bin: string): Promise<number | undefined> {
  try {
    const { stdout } = await run(bin, ['--version']);
    const m = /(\d+)(?:\.\d+)?/.exec(stdout.replace(/^[^0-9]*/, ''));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function findPgDump(serverMajor: number, tool: 'pg_dump' | 'pg_restore' = 'pg_dump'): Promise<string> {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).map(Number).filter((n) => n >= serverMajor).sort((a, b) => a - b) : [];
  for (const m of majors) {
    const bin = `${root}/${m}/bin/${tool}`;
    if (existsSync(bin)) return bin;
  }
  const onPath = await majorOf(tool);
  if (onPath !== undefined && onPath >= serverMajor) return tool;
  throw new Error(
    `no ${tool} for PostgreSQL ${serverMajor} or newer was found; install it (Debian: apt-get install postgresql-client-${serverMajor})`,
  );
}

export type DumpTarget = DbLogin;

const DUMP_ARGS = ['--format=custom', '--no-owner', '--no-privileges', '--no-subscriptions'];

function pgEnv(target: DumpTarget): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...libpqEnv(target),
    PGUSER: target.user,
    PGPASSWORD: target.password,
    PGDATABASE: target.database,
    PGCONNECT_TIMEOUT: '10',
    PGOPTIONS: DUMP_PGOPTIONS,
  };
}

function lastLine(err: unknown): string {
  return String((err as { stderr?: string }).stderr ?? '').trim().split('\n').pop() || (err as Error).message;
}

/** Custom-format dump (restorable with pg_restore), without owners or grants so it restores anywhere. */
export async function dumpDatabase(pgDump: string, target: DumpTarget, file: string): Promise<void> {
  try {
    await run(pgDump, [...DUMP_ARGS, `--file=${file}`], { env: pgEnv(target) });
  } catch (err) {
    throw new Error(`pg_dump of "${target.database}" failed: ${lastLine(err)}`);
  }
}

export interface Digest {
  bytes: number;
  sha256: string;
}

/** A pass-through stream that counts and hashes what flows through it. */
function digester(): { stream: Transform; digest(): Digest } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, digest: () => ({ bytes, sha256: hash.digest('hex') }) };
}

/**
 * Dump to `file` (created 0600, must not exist) and hash it in the same pass: the
 * checksum describes exactly the bytes pg_dump wrote, read once.
 */
export async function dumpToFile(pgDump: string, target: DumpTarget, file: string): Promise<Digest> {
  const child = spawn(pgDump, DUMP_ARGS, { env: pgEnv(target), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const d = digester();
  try {
    await pipeline(child.stdout, d.stream, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`pg_dump of "${target.database}" failed: ${(err as Error).message}`);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`pg_dump of "${target.database}" failed: ${stderr.trim().split('\n').pop() || `exit ${code}`}`);
  return d.digest();
}

/** sha256 and size of a file, read in one pass. */
export async function digestFile(file: string): Promise<Digest> {
  const d = digester();
  await pipeline(createReadStream(file), d.stream, async function* (source) {
    for await (const _ of source) void _;
  });
  return d.digest();
}

/**
 * Restore a custom-format dump into an existing, empty database, connected as `target`
 * (the tenant's own role, so every object it creates is the tenant's). One transaction:
 * a failing restore leaves the database empty.
 */
export async function restoreDatabase(pgRestore: string, target: DumpTarget, file: string): Promise<void> {
  try {
    await run(pgRestore, ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${target.database}`, file], {
      env: pgEnv(target),
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    throw new Error(`pg_restore into "${target.database}" failed: ${lastLine(err)}`);
  }
}

/**
 * Copy a database from one server to another: pg_dump | pg_restore, streamed, no file.
 * `to` connects as the tenant role, so the copy is owned by the tenant.
 */
export async function copyDatabase(pgDump: string, pgRestore: string, from: DumpTarget, to: DumpTarget): Promise<Digest> {
  const dump = spawn(pgDump, DUMP_ARGS, { env: pgEnv(from), stdio: ['ignore', 'pipe', 'pipe'] });
  const restore = spawn(pgRestore, ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${to.database}`], {
    env: pgEnv(to),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let dumpErr = '';
  let restoreErr = '';
  dump.stderr.on('data', (d) => (dumpErr += d));
  restore.stderr.on('data', (d) => (restoreErr += d));
  const dumpExit = new Promise<number>((r) => dump.on('close', (c) => r(c ?? 1)));
  const restoreExit = new Promise<number>((r) => restore.on('close', (c) => r(c ?? 1)));
  const d = digester();
  const piped = pipeline(dump.stdout, d.stream, restore.stdin).catch((err: Error) => err);
  const [pipeErr, dc, rc] = await Promise.all([piped, dumpExit, restoreExit]);
  if (dc !== 0) {
    restore.kill('SIGKILL');
    throw new Error(`pg_dump of "${from.database}" failed: ${dumpErr.trim().split('\n').pop() || `exit ${dc}`}`);
  }
  if (rc !== 0) throw new Error(`pg_restore into "${to.database}" failed: ${restoreErr.trim().split('\n').pop() || `exit ${rc}`}`);
  if (pipeErr) throw new Error(`copying "${from.database}" failed: ${pipeErr.message}`);
  return d.digest();
}
