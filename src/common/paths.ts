/** Where everything lives under $SILO_HOME. One place, so nothing guesses a path. */
import { join } from 'node:path';

export function homePaths(home: string) {
  return {
    home,
    registry: join(home, 'registry.json'),
    secrets: join(home, 'secrets'),
    tenantPassword: (tenant: string) => join(home, 'secrets', 'tenants', `${tenant}.password`),
    /** the password of a tenant's dump role (pg_dump logs in as it; never the tenant's worker) */
    dumpPassword: (tenant: string) => join(home, 'secrets', 'dump', `${tenant}.password`),
    serverUrl: (server: string) => join(home, 'secrets', 'servers', `${server}.url`),
    /** the control API's bearer tokens, hashed (0600): src/control/tokens.ts */
    controlTokens: join(home, 'secrets', 'control-tokens.json'),
    /** the control API's jobs, one 0600 file each: src/control/jobs.ts */
    controlJobs: join(home, 'control', 'jobs'),
    pgData: (server: string) => join(home, 'postgres', server),
    backups: join(home, 'backups'),
    tenantBackups: (tenant: string) => join(home, 'backups', tenant),
    /** a tenant's last backup attempt, failed or not (for /metrics): not among its backups, which hold dumps and their entries only */
    backupAttempt: (tenant: string) => join(home, 'backup-attempts', `${tenant}.json`),
    logs: join(home, 'logs'),
    proxy: join(home, 'proxy'),
    /** SILO_RUNTIME=swarm: the edge service's nginx config, rendered for its container (src/proxy/edge.ts) */
    edgeConfig: join(home, 'proxy', 'edge'),
    /** the bearer token the edge's agents and the waker share (0600; a Docker secret on the edge) */
    edgeToken: join(home, 'secrets', 'edge-token'),
    /** SILO_RUNTIME=swarm: the key of the control state's copy in the swarm (src/runtime/swarm/control-state.ts); never in that copy */
    controlKey: join(home, 'secrets', 'control-key'),
    /** which home controls the swarm's stack: a random id, never copied (control-state.ts) */
    controllerId: join(home, 'control', 'controller-id'),
    /** suspended tenants' 503 pages: the proxy answers from these while they exist */
    suspendedPages: join(home, 'proxy', 'suspended'),
    pm2Home: join(home, 'pm2'),
    /** the audit log and webhooks (src/events/): not under logs/, whose files the ceilings watcher copies and empties */
    events: join(home, 'events'),
    audit: join(home, 'events', 'audit.log'),
    webhooks: join(home, 'events', 'webhooks.json'),
    webhookSecret: (id: string) => join(home, 'secrets', 'webhooks', `${id}.secret`),
    /** one file per delivery still to make; the `events` app delivers and removes them */
    outbox: join(home, 'events', 'outbox'),
    deliveries: join(home, 'events', 'deliveries.log'),
  };
}

export type HomePaths = ReturnType<typeof homePaths>;

/**
 * The names silo makes directly in a state folder: homePaths' and those a few modules make
 * themselves (releases, runtime, tmp, ...). A folder without registry.json that holds only
 * these is a state folder all the same, one a first `silo up` left when it failed before
 * writing the registry; a folder holding anything else and no registry is someone else's
 * (`silo down --purge` refuses it).
 */
const HOME_ENTRIES = new Set([
  // homePaths
  'registry.json', 'secrets', 'control', 'postgres', 'backups', 'backup-attempts', 'logs', 'proxy', 'pm2', 'events',
  // made by their own modules
  'registry.lock', 'locks', 'releases', 'runtime', 'tmp', 'hibernate', 'tls', 'run',
]);

export function isHomeEntry(name: string): boolean {
  // and the registry's temporary files (atomic-file.ts), a move's test hold points (tenant/move.ts)
  return HOME_ENTRIES.has(name) || /^registry\.json\.\d+\.\d+\.tmp$/.test(name) || /^hold-move-[a-z-]+$/.test(name);
}
