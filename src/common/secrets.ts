/**
 * Secrets (database passwords, admin URLs) live in files of mode 0600 under
 * $SILO_HOME/secrets (0700), never in the registry, the environment of a worker, or output.
 * Under root the folders are 0711 instead (enter, never list): each tenant's worker runs
 * as its own user and must reach its own password file, which is then 0400 and owned by
 * that user (src/isolation/tenant-user.ts); every other file stays 0600, root's.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from './atomic-file.js';

export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

export function writeSecret(file: string, value: string): void {
  const dir = dirname(file);
  const dirMode = process.getuid?.() === 0 ? 0o711 : 0o700;
  mkdirSync(dir, { recursive: true, mode: dirMode });
  chmodSync(dir, dirMode);
  chmodSync(dirname(dir), dirMode);
  writeFileAtomic(file, value + '\n', 0o600);
  chmodSync(file, 0o600);
}

export function readSecret(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function removeSecret(file: string): void {
  rmSync(file, { force: true });
}

/** Hide a password inside a connection URL, for anything that might be shown. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
