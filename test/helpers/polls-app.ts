/**
 * The bundled polls app as a separate app folder (for SILO_APP or `silo deploy`), with
 * extra migrations and its own package.json version: the sample's plugin and seed, its
 * migrations copied, plus whatever a test adds. `change` alters the plugin's behaviour
 * visibly: GET /api/release answers the version, so a test sees which release serves.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { root } from './silo-home.js';

export function pollsApp(
  t: { teardown(fn: () => unknown): void },
  opts: { version?: string; migrations?: Record<string, string>; parent?: string } = {},
): string {
  const dir = mkdtempSync(join(opts.parent ?? tmpdir(), 'silo-polls-app-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'migrations'));
  cpSync(join(root, 'src', 'app', 'migrations'), join(dir, 'migrations'), { recursive: true });
  for (const [name, sql] of Object.entries(opts.migrations ?? {})) writeFileSync(join(dir, 'migrations', name), sql);
  const version = opts.version ?? '1.0.0';
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'polls-app', version, type: 'module', main: 'index.js' }));
  // Self-contained, like a team's own app: the compiled sample and the packages it imports
  // are copied in, so nothing points back into the checkout (under root from /root a
  // tenant's user could not read it).
  cpSync(join(root, 'dist', 'app'), join(dir, 'sample'), { recursive: true });
  copyPackages(['@fastify/formbody'], join(root, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(
    join(dir, 'index.js'),
    `import { plugin as polls, seed } from './sample/index.js';
export const name = 'polls';
export { seed };
export const migrationsDir = new URL('./migrations/', import.meta.url).pathname;
export async function plugin(fastify) {
  fastify.get('/api/release', async () => ({ version: ${JSON.stringify(version)} }));
  await fastify.register(polls);
}
`,
  );
  return dir;
}

/** Copy packages and, recursively, their dependencies (as npm laid them out under `from`). */
function copyPackages(names: string[], from: string, to: string): void {
  for (const name of names) {
    const source = join(from, name);
    const target = join(to, name);
    if (existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    cpSync(source, target, { recursive: true });
    const deps = Object.keys(JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')).dependencies ?? {});
    // a dependency nested under the package came along with it; the others sit at the top
    copyPackages(deps.filter((d) => !existsSync(join(source, 'node_modules', d))), from, to);
  }
}
