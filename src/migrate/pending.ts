import type { Migration } from './files.js';

/**
 * Which migrations still have to run on a database whose highest applied version is
 * `applied`. A database ahead of the code (applied > latest) is an error: running old
 * code on a newer schema is how data gets damaged.
 */
export function pendingMigrations(available: Migration[], applied: number): Migration[] {
  const latest = available.length === 0 ? 0 : available[available.length - 1]!.version;
  if (applied > latest) {
    throw new Error(`database is at schema version ${applied} but this code only knows ${latest}`);
  }
  return available.filter((m) => m.version > applied);
}

export function latestVersion(available: Migration[]): number {
  return available.length === 0 ? 0 : available[available.length - 1]!.version;
}
