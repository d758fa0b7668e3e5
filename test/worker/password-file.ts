/** Test helper (no tests here): a password in a 0600 file of a temp dir, removed in teardown. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function passwordFile(t: { teardown(fn: () => unknown): void }, password = 'pw', prefix = 'silo-secret-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'password');
  writeFileSync(file, password + '\n', { mode: 0o600 });
  chmodSync(file, 0o600); // whatever the umask
  return file;
}
