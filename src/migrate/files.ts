/**
 * Reads a folder of numbered, forward-only SQL migrations (`0001_create_polls.sql`).
 * Numbers start at 1 and have no gaps, so "current" is simply the highest applied one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function loadMigrations(dir: string): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const migrations = files.map((file) => {
    const m = FILE.exec(file);
    if (!m) throw new Error(`migration file ${file} in ${dir} is not named NNNN_name.sql`);
    return { version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') };
  });
  migrations.forEach((mig, i) => {
    if (mig.version !== i + 1) {
      throw new Error(`migrations in ${dir} must be numbered 1..n without gaps; found ${mig.version} at position ${i + 1}`);
    }
  });
  return migrations;
}
