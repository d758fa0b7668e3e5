/**
 * Loaded with `--import` into every tenant worker (see cgroups.ts): while the process
 * still runs as root, before PM2's wrapper switches it to the tenant's user, it moves
 * itself into its tenant's groups (CPU, processes, memory) and drops root's supplementary groups. PM2 hands a
 * cluster worker its app environment as JSON in `pm2_env` (copied into process.env only
 * later, by its wrapper). Imports nothing of silo.
 */
import { writeFileSync } from 'node:fs';

function appEnv(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  try {
    const env = JSON.parse(process.env.pm2_env ?? '{}') as Record<string, unknown> & { env?: Record<string, unknown> };
    const value = env[name] ?? env.env?.[name];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

if (process.getuid?.() === 0) {
  // CGROUP_PROCS: ':'-separated (one per v1 hierarchy); CPU_CGROUP: one, from older ecosystems.
  for (const procs of (appEnv('CGROUP_PROCS') ?? appEnv('CPU_CGROUP') ?? '').split(':').filter(Boolean)) {
    try {
      writeFileSync(procs, String(process.pid));
    } catch (err) {
      process.stderr.write(`silo worker: could not join its group ${procs}: ${(err as Error).message}\n`);
    }
  }
  process.setgroups?.([]);
}
