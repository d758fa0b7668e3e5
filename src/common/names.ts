/**
 * The one allowlist for tenant names. A name becomes a DNS label, a PostgreSQL role and
 * database name, a PM2 app name and a file name, so it must be safe as all of them.
 */
const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

const RESERVED = new Set([
  'www', 'admin', 'api', 'app', 'mail', 'static', 'assets', 'status', 'proxy', 'silo',
  'postgres', 'template0', 'template1', 'root', 'public', 'pg', 'localhost', 'default',
]);

export class InvalidNameError extends Error {}

export function validateTenantName(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    const shown = JSON.stringify(String(name).slice(0, 40));
    throw new InvalidNameError(
      `invalid tenant name ${shown}: use 2 to 32 characters, lowercase letters, digits and '-', starting with a letter and not ending with '-'`,
    );
  }
  if (RESERVED.has(name)) {
    throw new InvalidNameError(`invalid tenant name "${name}": it is reserved`);
  }
  return name;
}

/** Server names follow the same rules (they become file names and PM2 app names). */
export function validateServerName(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidNameError(`invalid server name ${JSON.stringify(String(name).slice(0, 40))}: use 2 to 32 characters, lowercase letters, digits and '-'`);
  }
  return name;
}
