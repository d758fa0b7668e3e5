/**
 * SILO_APP and `silo deploy <app>` name an app as a folder, a file, or a package name.
 * This turns that name into the app's folder, its entry module (absolute, what a worker
 * imports) and its package.json name and version. Synchronous: PM2 loads the ecosystem
 * file with require().
 *
 * Entry of a folder: package.json `exports` ("." as a string, or its `import`/`default`
 * condition), else `main`, else `index.js`. A package name is looked up in the
 * node_modules folders from `from` upwards, as Node does.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { SiloError } from '../common/errors.js';

export interface ResolvedApp {
  /** The app's folder (the snapshot a release copies). */
  dir: string;
  /** Absolute path of the module a worker imports. */
  entry: string;
  packageName?: string;
  version?: string;
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
}

const isPathLike = (spec: string) => spec.startsWith('.') || isAbsolute(spec) || spec.includes('\\');

function readPackage(dir: string): PackageJson | undefined {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch {
    throw new SiloError(`app ${dir}: package.json is not valid JSON`);
  }
}

function exportedEntry(exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp;
  if (!exp || typeof exp !== 'object') return undefined;
  const map = exp as Record<string, unknown>;
  if ('.' in map) return exportedEntry(map['.']);
  for (const cond of ['import', 'node', 'default']) if (cond in map) return exportedEntry(map[cond]);
  return undefined;
}

function packageDir(name: string, from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function checkEntry(entry: string, spec: string): string {
  if (!existsSync(entry)) throw new SiloError(`app ${spec}: its entry module ${entry} does not exist (build it first?)`);
  if (['.ts', '.mts', '.cts'].includes(extname(entry))) {
    throw new SiloError(`app ${spec}: its entry ${entry} is TypeScript: compile it (tsc) and point package.json "main" at the .js file`);
  }
  return entry;
}

export function resolveApp(spec: string, from: string = process.cwd()): ResolvedApp {
  let dir: string;
  if (isPathLike(spec) || existsSync(resolve(from, spec))) {
    const path = resolve(from, spec);
    if (!existsSync(path)) throw new SiloError(`app ${spec}: no such file or folder (${path})`);
    if (statSync(path).isFile()) {
      const pkg = readPackage(dirname(path));
      return { dir: dirname(path), entry: checkEntry(path, spec), packageName: pkg?.name, version: pkg?.version };
    }
    dir = path;
  } else {
    const found = packageDir(spec, from);
    if (!found) throw new SiloError(`app ${spec}: not a folder, and no package of that name is installed (npm install it, or give a path)`);
    dir = found;
  }
  const pkg = readPackage(dir);
  const rel = exportedEntry(pkg?.exports) ?? pkg?.main ?? 'index.js';
  return { dir, entry: checkEntry(resolve(dir, rel), spec), packageName: pkg?.name, version: pkg?.version };
}
