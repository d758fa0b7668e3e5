/**
 * Releases: immutable snapshots of a tenant app under $SILO_HOME/releases/<id>/, where
 * <id> is the first 16 hex digits of a SHA-256 over the app's files (path and content,
 * node_modules, .git and .silo left out of the hash). The snapshot copies the whole
 * folder, node_modules included, so a release keeps running the dependencies it was
 * deployed with whatever happens to the team's folder afterwards.
 *
 * Registering the same content twice gives the same release. A snapshot is written to a
 * temporary folder and renamed into place, so a release folder is always complete.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { SiloConfig } from '../common/config.js';
import { SiloError } from '../common/errors.js';
import { isAlive } from '../common/processes.js';
import { checkApp } from './check.js';
import { resolveApp } from './resolve.js';

export interface Release {
  id: string;
  /** The app's name (its `name` export). */
  name: string;
  /** package.json `version`, if any. */
  version?: string;
  hash: string;
  /** Where it was deployed from. */
  source: string;
  /** Absolute path of the module a worker imports. */
  entry: string;
  migrationsDir: string;
  latestMigration: number;
  createdAt: string;
}

const SKIP = new Set(['node_modules', '.git', '.silo']);

export const releasesDir = (cfg: SiloConfig) => join(cfg.home, 'releases');
const releaseFile = (cfg: SiloConfig, id: string) => join(releasesDir(cfg), id, 'release.json');

/** `notes@1.2.0 (3f2a9c1b7d4e55aa)` */
export function describeRelease(r: Pick<Release, 'id' | 'name' | 'version'>): string {
  return `${r.name}${r.version ? `@${r.version}` : ''} (${r.id})`;
}

export function readRelease(cfg: SiloConfig, id: string): Release {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new SiloError(`invalid release id "${id.slice(0, 40)}"`);
  let release: Release;
  try {
    release = JSON.parse(readFileSync(releaseFile(cfg, id), 'utf8')) as Release;
  } catch {
    throw new SiloError(`release ${id} is missing from ${releasesDir(cfg)}`);
  }
  // Its paths were written under the home it was deployed in: a home restored elsewhere,
  // or taken over on another host (silo control adopt), finds them under its own store.
  const here = join(releasesDir(cfg), id);
  const mark = `${sep}releases${sep}${id}`;
  const follow = (path: string) => {
    const at = path.lastIndexOf(mark + sep);
    return path.startsWith(here + sep) || at < 0 ? path : join(here, path.slice(at + mark.length));
  };
  return { ...release, entry: follow(release.entry), migrationsDir: follow(release.migrationsDir) };
}

/** Every registered release, newest first (what the console offers to deploy). */
export function listReleases(cfg: SiloConfig): Release[] {
  let ids: string[];
  try {
    ids = readdirSync(releasesDir(cfg)).filter((n) => /^[0-9a-f]{16}$/.test(n));
  } catch {
    return [];
  }
  return ids
    .flatMap((id) => {
      try {
        return [readRelease(cfg, id)];
      } catch {
        return [];
      }
    })
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

function hashFolder(dir: string, skip: (path: string) => boolean): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(d, entry.name);
      if (skip(path)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        hash.update(relative(dir, path).split(sep).join('/')).update('\0').update(readFileSync(path)).update('\0');
      }
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/**
 * Copy a folder, leaving out what `skip` names. Not fs.cpSync: the release store is
 * usually inside the app's own folder ($SILO_HOME = ./.silo), and cpSync refuses to copy
 * a folder into its own subfolder whatever its filter says. Relative symlinks (npm's
 * `file:` links) are made absolute, so they still point at their target from the copy.
 */
function copyTree(from: string, to: string, skip: (path: string) => boolean): void {
  mkdirSync(to, { recursive: true, mode: statSync(from).mode & 0o777 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dest = join(to, entry.name);
    if (skip(src)) continue;
    if (entry.isSymbolicLink()) {
      const target = readlinkSync(src);
      symlinkSync(isAbsolute(target) ? target : resolve(dirname(src), target), dest);
    } else if (entry.isDirectory()) copyTree(src, dest, skip);
    else if (entry.isFile()) copyFileSync(src, dest);
  }
}

/** Snapshot and check the app named by `spec`; returns the (possibly existing) release. */
export async function registerRelease(cfg: SiloConfig, spec: string, from: string = process.cwd()): Promise<Release> {
  // The id of a release already in the store (what `deploy --json` printed, what the console offers).
  if (/^[0-9a-f]{16}$/.test(spec) && existsSync(releaseFile(cfg, spec))) return readRelease(cfg, spec);
  const app = resolveApp(spec, from);
  const home = resolve(cfg.home);
  const skip = (path: string) => SKIP.has(path.slice(path.lastIndexOf(sep) + 1)) || resolve(path) === home;
  const hash = hashFolder(app.dir, (p) => skip(p));
  const id = hash.slice(0, 16);
  if (existsSync(releaseFile(cfg, id))) return readRelease(cfg, id);

  const target = join(releasesDir(cfg), id);
  const tmp = join(releasesDir(cfg), `.tmp-${id}-${process.pid}`);
  // Under root each tenant's worker runs as its own user (src/isolation/): it must be
  // able to enter the store and its release, whatever the mode of the team's folder.
  mkdirSync(releasesDir(cfg), { recursive: true, mode: 0o711 });
  chmodSync(releasesDir(cfg), 0o711);
  rmSync(tmp, { recursive: true, force: true });
  // A snapshot half-copied by a command that died (kill -9) is its own folder: drop it.
  for (const stale of readdirSync(releasesDir(cfg))) {
    const pid = Number(/^\.tmp-[0-9a-f]{16}-(\d+)$/.exec(stale)?.[1]);
    if (pid && !isAlive(pid)) rmSync(join(releasesDir(cfg), stale), { recursive: true, force: true });
  }
  try {
    // node_modules is copied (not hashed): the release runs the dependencies it was
    // deployed with.
    copyTree(app.dir, tmp, (src) => ['.git', '.silo'].includes(src.slice(src.lastIndexOf(sep) + 1)) || resolve(src) === home);
    chmodSync(tmp, 0o755);
    const entry = join(tmp, relative(app.dir, app.entry));
    const info = await checkApp(entry, spec, cfg);
    const finalEntry = join(target, relative(app.dir, app.entry));
    const migrationsDir = info.migrationsDir.startsWith(tmp) ? join(target, relative(tmp, info.migrationsDir)) : info.migrationsDir;
    const release: Release = {
      id,
      name: info.name,
      version: app.version,
      hash,
      source: app.dir,
      entry: finalEntry,
      migrationsDir,
      latestMigration: info.latestMigration,
      createdAt: new Date().toISOString(),
    };
    writeFileSync(join(tmp, 'release.json'), JSON.stringify(release, null, 2) + '\n');
    try {
      renameSync(tmp, target);
    } catch (err) {
      // Another deploy of the same content won the race: theirs is identical.
      if (!existsSync(releaseFile(cfg, id))) throw err;
    }
    return readRelease(cfg, id);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** What `status --json` and `tenant list --json` show: null for the stack's app. */
export function releaseSummary(cfg: SiloConfig, id: string | undefined): { id: string; name: string; version?: string } | null {
  if (!id) return null;
  try {
    const r = readRelease(cfg, id);
    return { id: r.id, name: r.name, ...(r.version ? { version: r.version } : {}) };
  } catch {
    return { id, name: '(missing)' };
  }
}

/** The short form for tables: `notes@1.2.0`, or `-` for the stack's app. */
export function releaseShort(summary: ReturnType<typeof releaseSummary>): string {
  return summary ? `${summary.name}${summary.version ? `@${summary.version}` : ''}` : '-';
}
