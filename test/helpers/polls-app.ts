/**
 * The bundled polls app as a separate app folder (for SILO_APP or `silo deploy`), with
 * extra migrations and its own package.json version: the sample's plugin and seed, its
 * migrations copied, plus whatever a test adds. `change` alters the plugin's behaviour
 * visibly: GET /api/release answers the version, so a test sees which release serves.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  const sample = join(root, 'dist', 'app', 'index.js');
  writeFileSync(
    join(dir, 'index.js'),
    `import { plugin as polls, seed } from ${JSON.stringify(sample)};
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
