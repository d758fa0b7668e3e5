/**
 * Loading the tenant app a worker runs: the module named by APP_MODULE (an absolute path
 * to its entry file, resolved by the control plane), or the bundled polls sample. The
 * export is checked here, so a bad app is one clear line and not a TypeError later.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TenantApp } from '../contract/app-contract.js';

/** A tenant app that cannot run; the message is one line naming what is wrong. */
export class AppError extends Error {
  override name = 'AppError';
}

function describeExports(mod: Record<string, unknown>): string {
  const names = Object.keys(mod);
  return names.length ? `it exports ${names.slice(0, 8).join(', ')}` : 'it exports nothing';
}

/** The contract from a module namespace: `default` if it carries the names, else named exports. */
export function appFromModule(mod: Record<string, unknown>, where: string): TenantApp {
  const dflt = mod.default as Record<string, unknown> | undefined;
  const source = dflt && typeof dflt === 'object' && 'plugin' in dflt ? dflt : mod;
  const { name, plugin, migrationsDir, seed } = source as Partial<Record<keyof TenantApp, unknown>>;
  const missing = [
    typeof name === 'string' && name.length > 0 ? undefined : 'name (a string)',
    typeof plugin === 'function' ? undefined : 'plugin (a Fastify plugin function)',
    typeof migrationsDir === 'string' && migrationsDir.length > 0 ? undefined : 'migrationsDir (a folder path)',
  ].filter(Boolean);
  if (missing.length) {
    throw new AppError(`${where} does not export ${missing.join(', ')} (as named exports or on its default export; ${describeExports(mod)})`);
  }
  if (seed !== undefined && typeof seed !== 'function') throw new AppError(`${where}: seed must be a function (sql, tenant)`);
  const dir = migrationsDir as string;
  if (!isAbsolute(dir)) throw new AppError(`${where}: migrationsDir must be an absolute path, got "${dir.slice(0, 200)}"`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new AppError(`${where}: migrations folder ${dir} does not exist`);
  return { name: name as string, plugin: plugin as TenantApp['plugin'], migrationsDir: dir, ...(seed ? { seed: seed as TenantApp['seed'] } : {}) };
}

/** Import the app at `entry` (absolute path of a .js/.mjs file), or the bundled sample. */
export async function loadApp(entry?: string): Promise<TenantApp> {
  if (!entry) return appFromModule(await import('../app/index.js'), 'the bundled polls app');
  if (!isAbsolute(entry)) throw new AppError(`app module path must be absolute, got "${entry.slice(0, 200)}"`);
  if (!existsSync(entry)) throw new AppError(`app module ${entry} does not exist`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new AppError(`cannot import ${entry}: ${(e.message ?? String(err)).split('\n')[0]}`);
  }
  return appFromModule(mod, entry);
}
