/**
 * The one set of name and host rules, imported by the control plane and the worker
 * alike. A tenant name becomes a DNS label, a PostgreSQL role and database name, a PM2
 * app name and a file name, so it must be safe as all of them. A tenant answers on
 * `<name>.<domain>` plus its extra domains.
 */
export const TENANT_NAME_PATTERN = '^[a-z][a-z0-9-]{0,30}[a-z0-9]$';
const NAME = new RegExp(TENANT_NAME_PATTERN);
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

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

/** A lower-case DNS name; not an IP literal (its last label must hold a letter). */
export function isHostName(h: string): boolean {
  const labels = h.split('.');
  return h.length <= 253 && labels.every((l) => LABEL.test(l)) && /[a-z]/.test(labels[labels.length - 1]!);
}

/** Lower case, without one trailing dot: the form hosts are compared and stored in. */
export function normaliseHostName(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '');
}

/** An extra domain for a tenant: a host name of at least two labels. */
export function isDomainName(h: string): boolean {
  return isHostName(h) && h.includes('.');
}

/** Every host a tenant answers on; the first is its own `<name>.<domain>`. */
export function tenantHosts(stack: { domain: string }, name: string, entry: { domains: readonly string[] } = { domains: [] }): string[] {
  return [`${name}.${stack.domain}`, ...entry.domains];
}
