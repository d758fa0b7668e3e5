/**
 * The database password lives in a file only its owner may read (mode 0600 or 0400).
 * It is checked at boot (a clear refusal to start) and read again at every new database
 * connection, so a rotated password needs no restart and never sits in the environment.
 */
import { readFileSync, statSync } from 'node:fs';

/** The file is missing, unreadable, empty or too open; `code` lets errors.ts answer 503. */
export class SecretFileError extends Error {
  override name = 'SecretFileError';
  readonly code = 'SECRET_FILE_UNUSABLE';
}

function problem(path: string): string | undefined {
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return `${path} is not a file`;
    mode = st.mode & 0o777;
  } catch (err) {
    return `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  if ((mode & 0o077) !== 0) {
    return `${path} is readable by group or others (mode 0${mode.toString(8)}); chmod 600 it`;
  }
  return undefined;
}

/** Throws SecretFileError when the file is unusable; returns the trimmed secret. */
export function readSecretFile(path: string): string {
  const why = problem(path);
  if (why) throw new SecretFileError(why);
  let value: string;
  try {
    value = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new SecretFileError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!value) throw new SecretFileError(`${path} is empty`);
  return value;
}

/** Boot-time check: same rules, message prefixed with the variable that named the file. */
export function checkSecretFile(path: string, variable: string): void {
  try {
    readSecretFile(path);
  } catch (err) {
    throw new SecretFileError(`${variable}: ${(err as Error).message}`);
  }
}
