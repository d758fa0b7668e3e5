/**
 * The edge service (SILO_EDGE_PORT > 0): nginx and silo's edge agent (src/proxy/edge.ts)
 * as one global Swarm service, a task on every node labelled `silo.edge=true`
 * (`docker node update --label-add silo.edge=true <node>`), its port published in host
 * mode on that node (no routing mesh here). Its image is of the worker's family: silo's
 * dist/ on SILO_SWARM_BASE_IMAGE, plus this host's nginx and the libraries it links
 * (a Debian 12 nginx, for a Debian 12 base), built on the manager and loaded on every node
 * (images.ts). The token the agents present to the control host is a Docker secret
 * mounted into this service only. Its spec changes only when silo's code, the control
 * host's address or the port does: a tenant or a domain never updates it.
 */
import type Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { projectRoot, type SiloConfig } from '../../common/config.js';
import { SiloError } from '../../common/errors.js';
import { findProgram } from '../../proxy/binaries.js';
import { EDGE_LISTEN_PORT, EDGE_TOKEN_IN_TASK } from '../../proxy/edge.js';
import { contentStamp, IMAGE_ROOT, type WorkerImage } from './images.js';

export const EDGE_SERVICE = 'silo-edge';
export const EDGE_LABEL = 'silo.edge';
const EDGE_DIR = '/opt/silo-edge';
const MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req';
/** glibc itself is the base image's (the same Debian release); the rest nginx links comes along. */
const FROM_BASE = /^(linux-vdso|libc\.so|ld-linux|libm\.so|libpthread|libdl\.so|librt\.so)/;

export function edgeImage(cfg: SiloConfig): WorkerImage {
  const nginx = findProgram('nginx');
  if (!nginx) throw new SiloError('the edge service needs nginx on this host: apt-get install nginx-light');
  const libs = execFileSync('ldd', [nginx], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /=>\s*(\/\S+)/.exec(l)?.[1])
    .filter((p): p is string => !!p && !FROM_BASE.test(basename(p)));
  const files: [string, string][] = [
    [join(projectRoot, 'dist'), 'silo/dist'],
    [join(projectRoot, 'package.json'), 'silo/package.json'],
    [nginx, 'edge/nginx'],
    ...libs.map((l): [string, string] => [l, `edge/lib/${basename(l)}`]),
  ];
  const tag = `silo/edge:${createHash('sha256').update(cfg.swarmBaseImage).update(contentStamp(files.map((f) => f[0]))).digest('hex').slice(0, 12)}`;
  const dockerfile = `FROM ${cfg.swarmBaseImage}
COPY silo ${IMAGE_ROOT}
COPY edge ${EDGE_DIR}
WORKDIR ${IMAGE_ROOT}
ENV NODE_ENV=production SILO_EDGE_NGINX=${EDGE_DIR}/nginx SILO_EDGE_LIBS=${EDGE_DIR}/lib
CMD ["node", "${IMAGE_ROOT}/dist/proxy/edge-agent-main.js"]
`;
  return { tag, appModule: '', files, dockerfile };
}

/**
 * The control host's address in the swarm (the first engine's, a manager's: one of
 * controlAddresses). The waker's port for the edge listens on it only, not on every
 * address of the control host.
 */
export async function controlAddress(manager: Docker): Promise<string> {
  const addr = ((await manager.info()) as { Swarm?: { NodeAddr?: string } }).Swarm?.NodeAddr;
  if (!addr) throw new SiloError('the first engine of SILO_SWARM_ENGINES is not in a swarm: no address for the edge to reach');
  return addr;
}

/**
 * Where the edge's agents look for the control host: every manager's address, sorted, so
 * the list (and the edge's spec) stays the same when another manager takes the control
 * plane over (control-state.ts); an agent keeps to the one that answers and moves on when
 * it stops (connection refused, no answer, or 503 from a home another took over).
 */
export async function controlAddresses(manager: Docker, port: number): Promise<string> {
  const nodes = (await manager.listNodes({ filters: JSON.stringify({ role: ['manager'] }) })) as { Status?: { Addr?: string } }[];
  const addrs = [...new Set(nodes.map((n) => n.Status?.Addr).filter((a): a is string => !!a && a !== '0.0.0.0'))].sort();
  if (addrs.length === 0) throw new SiloError('the swarm reports no manager address for the edge to reach');
  return addrs.map((a) => `http://${a}:${port}`).join(',');
}

export interface EdgeInputs {
  image: string;
  /** the Docker secret holding the token */
  secret: { id: string; name: string };
  /** http://<a manager's address>:<SILO_EDGE_CONTROL_PORT>, each manager's, comma-separated (controlAddresses) */
  control: string;
}

/** Docker's ServiceSpec of the edge. */
export function edgeServiceSpec(cfg: SiloConfig, inputs: EdgeInputs) {
  return {
    Name: EDGE_SERVICE,
    Labels: { 'silo.edge-service': '1' },
    TaskTemplate: {
      ContainerSpec: {
        Image: inputs.image,
        Env: [`SILO_EDGE_CONTROL=${inputs.control}`],
        Secrets: [{ SecretID: inputs.secret.id, SecretName: inputs.secret.name, File: { Name: basename(EDGE_TOKEN_IN_TASK), UID: '0', GID: '0', Mode: 0o400 } }],
        StopGracePeriod: 10e9,
        // A reload hands the connections queued on an old worker's socket to a new one
        // instead of resetting them (nginx/reuseport.ts), in the container's own network
        // namespace; where the kernel has it (Linux 5.14+: the control host's is asked).
        ...(existsSync(MIGRATE_REQ) ? { Sysctls: { 'net.ipv4.tcp_migrate_req': '1' } } : {}),
      },
      RestartPolicy: { Condition: 'any', Delay: 1e9 },
      Placement: { Constraints: [`node.labels.${EDGE_LABEL}==true`] },
    },
    Mode: { Global: {} },
    // One task per node on a host-mode port: a new one can only start once the old one stopped.
    UpdateConfig: { Parallelism: 1, Order: 'stop-first', FailureAction: 'continue' },
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: EDGE_LISTEN_PORT, PublishedPort: cfg.edgePort, PublishMode: 'host' }] },
  };
}
