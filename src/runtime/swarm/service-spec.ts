/**
 * One tenant's worker as a Docker Swarm service (SILO_RUNTIME=swarm), from the registry:
 * one replica (0 while it hibernates) of silo's worker image with the tenant's release;
 * its database password a Docker secret mounted only into this service, as the file its
 * DB_PASSWORD_FILE names; its CPU and memory ceilings as the service's limits; a health
 * check on /readyz; updates start-first, so a deploy starts the new task and waits for it
 * to be healthy before the old one stops (on another node: see UpdateConfig); placed on
 * the node silo's registry pins it to.
 *
 * Reached without the routing mesh and without a VIP (neither works without IPVS, and a
 * VIP would hide which node serves): a host-mode published port, the tenant's own, on
 * the node that runs its task (the proxy routes to that node's address), and `dnsrr`
 * names for clients inside the swarm's network.
 */
import type { SiloConfig } from '../../common/config.js';
import { tenantHosts } from '../../common/names.js';
import type { Registry } from '../../registry/registry.js';
import { tenantCeilings, tenantLimits } from '../../isolation/limits.js';
import { tenantPoolSize } from '../../servers/connection-budget.js';

export const SERVICE_PREFIX = 'silo-tenant-';
export const serviceName = (tenant: string) => `${SERVICE_PREFIX}${tenant}`;
export const secretName = (tenant: string, version: string) => `silo-db-${tenant}-${version}`;
/** The port a worker listens on inside its task (its own network namespace: the same for all). */
export const WORKER_PORT = 8000;
const SECRET_FILE = 'db-password';
/** The unprivileged user the worker runs as inside its task. */
export const WORKER_UID = '1000';

/**
 * The task's health check: GET /readyz from inside its container, healthy on 200. Docker
 * runs it in the tenant's container every 2 s (a task is running, so routed and a start-first
 * update goes on, once one passes), and Swarm replaces the task after 3 failures in a row.
 * So it must be cheap and must not fail merely because the machine is busy: bash's own
 * /dev/tcp (a shell, a connect, a read: about no CPU), not `node -e fetch(...)`, which booted
 * Node every 2 s in every container (~70 ms of CPU each) and, with a 2 s limit, timed out
 * on a busy host: under a canary's image build three in a row did in every tenant's
 * container, and Swarm killed healthy workers on every node (502s and 5 s timeouts for
 * every tenant; the swarm test). 10 s per check: a worker is replaced after about 30 s of
 * not answering, not after one slow second. The image needs bash (Debian's Node images have it).
 * Once healthy, it prints when the worker last served a request (ACTIVITY_IN_TASK).
 */
/**
 * Where the worker touches its activity file inside its task (src/worker/activity.ts): the
 * health check prints its time ("served <epoch s>"), and the waker reads that in the
 * check's log on the node (swarm-runtime.ts, activity) to put an idle tenant to sleep.
 */
export const ACTIVITY_IN_TASK = '/tmp/silo-activity';

export const READYZ_CHECK = {
  Test: [
    'CMD',
    'bash',
    '-c',
    `exec 3<>/dev/tcp/127.0.0.1/${WORKER_PORT} && printf 'GET /readyz HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && read -r _ code _ <&3 && [ "$code" = 200 ] || exit 1; echo "served $(stat -c %Y ${ACTIVITY_IN_TASK} 2>/dev/null || echo -)"`,
  ],
  Interval: 2e9,
  Timeout: 10e9,
  Retries: 3,
  StartPeriod: 20e9,
};

export interface ServiceInputs {
  /** the image of silo's worker with this tenant's app (release) in it */
  image: string;
  /** the app module inside the image ('' = the bundled sample) */
  appModule: string;
  /** the app module as the registry names it on the control host (what status compares) */
  entry: string;
  /** the Docker secret holding its database password */
  secret: { id: string; name: string };
  /** the overlay network its database servers are reachable on, if any */
  network?: string;
  /** 0: hibernated */
  replicas: 0 | 1;
}

/** Docker's ServiceSpec for `name` (the shape of POST /services/create). */
export function tenantServiceSpec(cfg: SiloConfig, reg: Registry, name: string, inputs: ServiceInputs) {
  const t = reg.tenants[name];
  if (!t) throw new Error(`tenant "${name}" is not in the registry`);
  const server = reg.servers[t.server]!;
  const limits = tenantLimits(cfg, t);
  const ceilings = tenantCeilings(cfg, t);

  return {
    Name: serviceName(name),
    Labels: { 'silo.tenant': name, 'silo.release': t.release?.id ?? '', 'silo.entry': inputs.entry },
    TaskTemplate: {
      ContainerSpec: {
        Image: inputs.image,
        Labels: { 'silo.tenant': name },
        User: `${WORKER_UID}:${WORKER_UID}`,
        Env: Object.entries({
          NODE_ENV: 'production',
          TENANT: name,
          HOST: '0.0.0.0',
          PORT: String(WORKER_PORT),
          TENANT_HOSTS: tenantHosts(cfg, name, t).join(','),
          DB_HOST: server.host,
          DB_PORT: String(server.port),
          DB_SSLMODE: server.sslmode ?? '',
          DB_NAME: name,
          DB_USER: name,
          DB_PASSWORD_FILE: `/run/secrets/${SECRET_FILE}`,
          DB_POOL_MAX: String(tenantPoolSize(cfg, reg, t.server)),
          LOG_LEVEL: 'info',
          APP_MODULE: inputs.appModule,
          ACTIVITY_FILE: ACTIVITY_IN_TASK,
        }).map(([k, v]) => `${k}=${v}`),
        // Only this service gets this secret: another tenant's task has no file of it.
        Secrets: [{ SecretID: inputs.secret.id, SecretName: inputs.secret.name, File: { Name: SECRET_FILE, UID: WORKER_UID, GID: WORKER_UID, Mode: 0o400 } }],
        Healthcheck: READYZ_CHECK,
        StopGracePeriod: 8e9,
      },
      Resources: {
        Limits: {
          // cpu: percent of one core (0: none)
          ...(limits.cpu > 0 ? { NanoCPUs: limits.cpu * 1e7 } : {}),
          MemoryBytes: ceilings.memory,
        },
      },
      RestartPolicy: { Condition: 'any', Delay: 1e9 },
      Placement: { Constraints: t.node ? [`node.hostname==${t.node}`] : [], MaxReplicas: 1 },
      ...(inputs.network ? { Networks: [{ Target: inputs.network }] } : {}),
    },
    Mode: { Replicated: { Replicas: inputs.replicas } },
    // start-first: the new task is healthy before the old one stops. It starts on another
    // node (its port is taken on this one, and one task per node): the proxy finds it there.
    // A tenant pinned to one node has nowhere else to go: its old task stops first.
    UpdateConfig: { Parallelism: 1, Order: t.node ? 'stop-first' : 'start-first', FailureAction: 'rollback', Monitor: 5e9 },
    RollbackConfig: { Parallelism: 1, Order: t.node ? 'stop-first' : 'start-first' },
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: WORKER_PORT, PublishedPort: t.port, PublishMode: 'host' }] },
  };
}
