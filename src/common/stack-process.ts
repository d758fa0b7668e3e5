/**
 * What every long-running process of the stack that PM2 runs (the waker, the control API,
 * the events app) does the same way: one JSON line per event on stdout, one line on stderr
 * and exit 1 when it cannot go on, and its environment cut down once its settings are read.
 */

/** The names PM2 and Node need to start workers; everything else of PM2's environment must not reach them. */
export const PM2_ENVIRONMENT = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'PM2_HOME', 'PM2_SILENT', 'NODE_EXTRA_CA_CERTS'] as const;

/**
 * Deletes every variable of process.env but PM2_ENVIRONMENT and `alsoKeep`. PM2 merges
 * the environment of whoever starts an app into it, and these processes start workers:
 * their own PM2 variables (pm_id, name, pm_exec_path, ...) and settings must not reach them.
 */
export function trimEnvironment(alsoKeep: readonly string[] = []): void {
  const keep = new Set<string>([...PM2_ENVIRONMENT, ...alsoKeep]);
  for (const key of Object.keys(process.env)) if (!keep.has(key)) delete process.env[key];
}

/** One JSON line on stdout, with the time first. */
export function jsonLog(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...fields }) + '\n');
}

/** `fail(message)` for the process named `name`: "silo <name>: <message>" on stderr, exit 1. */
export function failAs(name: string): (message: string) => never {
  return (message: string): never => {
    process.stderr.write(`silo ${name}: ${message}\n`);
    process.exit(1);
  };
}
