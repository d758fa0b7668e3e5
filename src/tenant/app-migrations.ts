import type { SiloConfig } from '../common/config.js';
import { loadMigrations, type Migration } from '../migrate/files.js';
import { app } from '../app/index.js';
import { SiloError } from '../common/errors.js';

/** The tenant app's migrations (or SILO_MIGRATIONS_DIR, for a user's own app folder). */
export function migrationsDir(cfg: SiloConfig): string {
  return cfg.migrationsDir ?? app.migrationsDir;
}

export function loadAppMigrations(cfg: SiloConfig): Migration[] {
  try {
    return loadMigrations(migrationsDir(cfg));
  } catch (err) {
    throw new SiloError(`cannot read migrations: ${(err as Error).message}`);
  }
}
