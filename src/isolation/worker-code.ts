/**
 * The code a worker runs (silo's dist/ and node_modules) must be readable by the tenant's
 * Unix user. From a project others can enter, workers run it in place. Under root from a
 * private folder (/root is 0700), silo keeps a copy in $SILO_HOME/runtime/<stamp>/ instead,
 * without opening up the operator's folder: dist/ and package.json copied, node_modules
 * hard-linked (instant, no space; npm replaces files rather than rewriting them). The stamp
 * is a hash of the lock file and of dist/'s file names, sizes and times, so a rebuild
 * makes a new copy and running workers keep theirs. Hashing dist/ (~540 files) costs a
 * wake ~10 ms, so a process keeps the stamp until `npm run build` replaces
 * dist/.build-stamp (scripts/build-stamp.js, its last step) or the package files change.
 * A directory's time would not do: tsc and esbuild rewrite files in place.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { projectRoot, type SiloConfig } from '../common/config.js';
import { blockingFolder, isRoot } from '../common/reach.js';

function stamp(root: string): string {
  const h = createHash('sha256');
  for (const f of ['package-lock.json', 'package.json']) if (existsSync(join(root, f))) h.update(readFileSync(join(root, f)));
  const dist = join(root, 'dist');
  for (const rel of (readdirSync(dist, { recursive: true }) as string[]).sort()) {
    const st = statSync(join(dist, rel));
    h.update(`${rel}\0${st.size}\0${st.mtimeMs}\0`);
  }
  return h.digest('hex').slice(0, 16);
}

/** The stamp of dist/ as last computed, and what it was computed under (distKey). */
let known: { key: string; stamp: string } | undefined;

/** Cheap to read, changes with every `npm run build`; undefined without a build stamp (never cached). */
function distKey(root: string): string | undefined {
  const of = (f: string): string | undefined => {
    const st = statSync(join(root, f), { throwIfNoEntry: false });
    return st && `${st.ino}:${st.size}:${st.mtimeMs}`;
  };
  const build = of(join('dist', '.build-stamp'));
  return build && [root, build, of('package-lock.json') ?? '-', of('package.json') ?? '-'].join('\0');
}

function distStamp(root: string): string {
  const key = distKey(root);
  if (key !== undefined && known?.key === key) return known.stamp;
  const value = stamp(root);
  known = key === undefined ? undefined : { key, stamp: value };
  return value;
}

const needsCopy = (): boolean => isRoot() && blockingFolder(join(projectRoot, 'dist', 'worker', 'server.js')) !== undefined;

/**
 * The folder whose dist/worker/server.js PM2 runs for a tenant, making the copy when one
 * is needed and missing (so `pm2 start ecosystem.config.js` and `silo reload` after a
 * rebuild get it too).
 */
export function workerCodeRoot(cfg: SiloConfig): string {
  if (!needsCopy()) return projectRoot;
  const runtime = join(cfg.home, 'runtime');
  const target = join(runtime, distStamp(projectRoot));
  if (existsSync(join(target, 'package.json'))) return target;
  mkdirSync(runtime, { recursive: true, mode: 0o711 });
  chmodSync(runtime, 0o711);
  const staging = `${target}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o755 });
  cpSync(join(projectRoot, 'dist'), join(staging, 'dist'), { recursive: true });
  try {
    execFileSync('cp', ['-al', join(projectRoot, 'node_modules'), join(staging, 'node_modules')], { stdio: 'pipe' });
  } catch {
    // No hard links across filesystems (a home on a tmpfs /tmp, the checkout on disk): a
    // plain copy. cp leaves what it made before it failed, its folders still 0700 (it
    // opens them up at the end): into those the copy would keep them unreadable by tenants.
    rmSync(join(staging, 'node_modules'), { recursive: true, force: true });
    cpSync(join(projectRoot, 'node_modules'), join(staging, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  }
  copyFileSync(join(projectRoot, 'package.json'), join(staging, 'package.json')); // last: it marks the copy complete
  chmodSync(staging, 0o755);
  try {
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(target, 'package.json'))) throw err;
  }
  return target;
}

/**
 * The file PM2 runs for a worker under `code` (a workerCodeRoot()): the bundle's loader
 * the build makes (scripts/bundle-worker.js: a start reads one module, not hundreds, and
 * takes its compiled code from a V8 code cache), or tsc's server.js when the build had no
 * bundler.
 */
export function workerEntry(code: string): string {
  const bundle = join(code, 'dist', 'worker-bundle', 'worker', 'server.js');
  return existsSync(bundle) ? bundle : join(code, 'dist', 'worker', 'server.js');
}
