/**
 * Dumping a database with a pg_dump whose major version is at least the server's
 * (pg_dump refuses newer servers). Debian keeps one per major under /usr/lib/postgresql.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';

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

export interface DumpTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Custom-format dump (restorable with pg_restore), without owners or grants so it restores anywhere. */
export async function dumpDatabase(pgDump: string, target: DumpTarget, file: string): Promise<void> {
  try {
    await run(pgDump, ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`], {
      // The password goes through the environment of the child only, never argv (visible in ps).
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PGHOST: target.host,
        PGPORT: String(target.port),
        PGUSER: target.user,
        PGPASSWORD: target.password,
        PGDATABASE: target.database,
        PGCONNECT_TIMEOUT: '10',
      },
    });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim().split('\n').pop();
    throw new Error(`pg_dump of "${target.database}" failed: ${stderr || (err as Error).message}`);
  }
}
