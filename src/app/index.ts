/**
 * The app contract: the one module the platform imports. `plugin` uses `fastify.sql` and
 * `fastify.tenant`; `migrationsDir` holds numbered `.sql` files, next to the compiled
 * module too (the build copies `src/app/migrations/*.sql` to `dist/app/migrations/`);
 * `seed` gives the demo tenants sample data.
 */
import { fileURLToPath } from 'node:url';
import { pollsPlugin } from './plugin.js';
import { seedDemo } from './demo.js';

export const name = 'polls';
export const plugin = pollsPlugin;
/** Absolute path of this app's migrations folder. */
export const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Distinct sample polls for the demo tenants `silo up` creates. */
export const seed = seedDemo;

export const app = { name, plugin, migrationsDir, seed };
export default app;
