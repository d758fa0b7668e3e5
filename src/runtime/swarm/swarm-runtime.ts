/**
 * The Swarm runtime (SILO_RUNTIME=swarm): each tenant's worker is a service of one replica
 * (service-spec.ts) on a Docker Swarm, asked of a manager through the Engine API with a
 * kept client (dockerode), never by running the docker command. Hibernation is a scale to
 * 0 and a wake a scale to 1; a reload is a service update (start-first: the new task is
 * healthy before the old one stops); `restart` forces a new task the same way.
 *
 * Ready means a task in state `running`: with a health check, Swarm reports a task running
 * only once its container is healthy (/readyz answered 200).
 */
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SiloConfig } from '../../common/config.js';
import { homePaths } from '../../common/paths.js';
import { SiloError } from '../../common/errors.js';
import { within } from '../../common/within.js';
import type { Registry } from '../../registry/registry.js';
import type { TenantRuntime, WorkerActivity, WorkerStatus, Workers } from '../runtime.js';
import { SERVICE_PREFIX, secretName, serviceName, tenantServiceSpec } from './service-spec.js';
import { copyOutOfImage, ensureWorkerImage, workerImage } from './images.js';
import { tenantAppEntry } from '../../apps/app-migrations.js';
import { ensureEdgeToken } from '../../proxy/edge.js';
import { retryingMethods } from './transient.js';
import { EDGE_LABEL, EDGE_SERVICE, controlAddress, controlAddresses, edgeImage, edgeServiceSpec } from './edge-service.js';
import { adoptControlState, assertControl, controlVersions, publishControlState, readControlKey, readControllerId } from './control-state.js';

export interface SwarmOptions {
  /** the nodes' Engine APIs (a Unix socket path, or http://host:port), a manager first */
  engines: string[];
  base: string;
  network?: string;
}

interface Task {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; Err?: string; Timestamp?: string; ContainerStatus?: { ContainerID?: string } };
  ServiceID: string;
  CreatedAt: string;
  Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
}

/**
 * The label on a task's container that names the task template it was made from (a hash
 * of it): a task is the service's current one when its stamp is the service's. Without it,
 * "a task runs" right after an update was the old task: Swarm marks the service `updating`
 * a moment later, and a waitReady in between returned at once (a canary's deploy reported
 * its switch done while its new task had not started).
 */
export const SPEC_LABEL = 'silo.spec';
const stampOf = (t: { ContainerSpec?: { Labels?: Record<string, string> } } | undefined) => t?.ContainerSpec?.Labels?.[SPEC_LABEL];

/** dockerode is loaded at the first call only: a PM2 stack's commands never pay for it. */
export async function clientFor(engine: string): Promise<Docker> {
  const { default: Dockerode } = await import('dockerode');
  if (engine.startsWith('/')) return new Dockerode({ socketPath: engine });
  const url = new URL(engine);
  return new Dockerode({ host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' });
}

/**
 * Secrets of a service just removed: Swarm refuses to remove a secret while a task of it
 * still runs (it stops within its grace period), so each is tried again until it goes,
 * for up to 30 s; one that is gone already is fine. Before, the first refusal left it
 * behind for good (a password in the Raft store after `down`).
 */
async function removeSecrets(manager: Docker, ids: string[]): Promise<void> {
  const end = Date.now() + 30_000;
  for (const id of ids) {
    for (;;) {
      const err = await manager.getSecret(id).remove().then(() => undefined, (e: { statusCode?: number; message?: string }) => e);
      if (!err || err.statusCode === 404) break;
      if (!/in use/i.test(err.message ?? '') || Date.now() > end) throw new SiloError(`secret ${id} of a removed service not removed: ${String(err.message).split('\n')[0]}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export function swarmRuntime(opts: SwarmOptions): TenantRuntime {
  if (opts.engines.length === 0) throw new SiloError('SILO_RUNTIME=swarm needs SILO_SWARM_ENGINES: the Engine API of a manager first, then of each other node');
  let clients: Promise<Docker[]> | undefined;
  const engines = () => (clients ??= Promise.all(opts.engines.map(clientFor)));
  /** When this process last updated each tenant's service (waitReady reports its rollback). */
  const updated = new Map<string, number>();
  /** The manager's client. */
  const m = async () => (await engines())[0]!;

  /** The swarm's nodes by ID: name, address, and whether it is up (`ready`). */
  async function nodeNames(): Promise<Map<string, { name: string; addr?: string; ready: boolean }>> {
    const nodes = (await (await m()).listNodes()) as { ID: string; Description?: { Hostname?: string }; Status?: { Addr?: string; State?: string } }[];
    return new Map(nodes.map((n) => [n.ID, { name: n.Description?.Hostname ?? n.ID, addr: n.Status?.Addr, ready: n.Status?.State === 'ready' }]));
  }

  /** The edge service as the manager lists it, if it exists. */
  async function findEdge(manager: Docker): Promise<Docker.Service | undefined> {
    return (await manager.listServices({ filters: JSON.stringify({ name: [EDGE_SERVICE] }) })).find((x) => x.Spec?.Name === EDGE_SERVICE);
  }

  /**
   * Each node's engine by its Swarm node ID (asked of the engines once, again for an unknown node).
   * Engines are asked `within` 5 s, an error as no answer: a node whose engine is on TCP and gone
   * (its machine off, before the manager calls it down) would hold the idle tick for the
   * kernel's connect timeout (about 2 minutes) and no tenant would hibernate meanwhile.
   */
  let byNode = new Map<string, Docker>();
  async function engineOf(nodeId: string): Promise<Docker | undefined> {
    if (!byNode.has(nodeId)) {
      const found = new Map<string, Docker>();
      for (const d of await engines()) {
        const info = (await within(5000, d.info().catch(() => undefined))) as { Swarm?: { NodeID?: string } } | undefined;
        if (info?.Swarm?.NodeID) found.set(info.Swarm.NodeID, d);
      }
      byNode = found;
    }
    return byNode.get(nodeId);
  }

  /**
   * When the worker in `task` last served a request: its health check prints the time of
   * the worker's activity file (service-spec.ts, READYZ_CHECK), which the node's engine
   * keeps in the container's health log. The age is taken on the node's clock (the check's
   * end minus the file's time), so the hosts' clocks need not agree. No news: now.
   */
  async function servedAt(task: Task, now: number): Promise<number> {
    const id = task.Status.ContainerStatus?.ContainerID;
    const engine = id ? await engineOf(task.NodeID) : undefined;
    if (!id || !engine) return now;
    const c = (await within(5000, engine.getContainer(id).inspect().catch(() => undefined))) as { State?: { Health?: { Log?: { End?: string; ExitCode?: number; Output?: string }[] } } } | undefined;
    const last = (c?.State?.Health?.Log ?? []).filter((l) => l.ExitCode === 0).pop();
    const at = /served (\d+)/.exec(last?.Output ?? '')?.[1];
    const end = last?.End ? Date.parse(last.End) : NaN;
    if (!at || !Number.isFinite(end)) return now;
    return now - Math.max(0, end - Number(at) * 1000);
  }

  async function find(name: string): Promise<Docker.Service | undefined> {
    const [svc] = (await (await m()).listServices({ filters: JSON.stringify({ name: [serviceName(name)] }) })).filter((s) => s.Spec?.Name === serviceName(name));
    return svc ? (await m()).getService(svc.ID!) : undefined;
  }

  /** Its password as a secret: immutable in Swarm, so named by a hash of its content. */
  async function secretFor(cfg: SiloConfig, name: string): Promise<{ id: string; name: string }> {
    const password = readFileSync(homePaths(cfg.home).tenantPassword(name));
    const wanted = secretName(name, createHash('sha256').update(password).digest('hex').slice(0, 12));
    const found = ((await (await m()).listSecrets({ filters: JSON.stringify({ name: [wanted] }) })) as { ID: string; Spec?: { Name?: string } }[]).find((s) => s.Spec?.Name === wanted);
    if (found) return { id: found.ID, name: wanted };
    const made = (await (await m()).createSecret({ Name: wanted, Labels: { 'silo.tenant': name }, Data: password.toString('base64') })) as { id?: string; ID?: string };
    return { id: String(made.id ?? made.ID), name: wanted };
  }

  async function secretsOf(name: string): Promise<string[]> {
    const all = (await (await m()).listSecrets({ filters: JSON.stringify({ label: [`silo.tenant=${name}`] }) })) as { ID: string }[];
    return all.map((s) => s.ID);
  }

  async function put(cfg: SiloConfig, reg: Registry, name: string, replicas: 0 | 1, force = false): Promise<boolean> {
    const img = workerImage(cfg, reg, name);
    const [manager, ...others] = await engines();
    await ensureWorkerImage(manager!, others, opts.base, img);
    const entry = tenantAppEntry(cfg, reg.tenants[name]!) ?? '';
    const spec = tenantServiceSpec(cfg, reg, name, { image: img.tag, appModule: img.appModule, entry, secret: await secretFor(cfg, name), network: opts.network, replicas });
    const svc = await find(name);
    const stamped = (forced: number) => {
      const template = { ...spec.TaskTemplate, ForceUpdate: forced };
      const stamp = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 16);
      return { ...template, ContainerSpec: { ...template.ContainerSpec, Labels: { ...template.ContainerSpec.Labels, [SPEC_LABEL]: stamp } } };
    };
    if (!svc) {
      await (await m()).createService({ ...spec, TaskTemplate: stamped(0) } as unknown as Docker.CreateServiceOptions);
      return true;
    }
    const now = (await svc.inspect()) as { Version: { Index: number }; Spec: { TaskTemplate?: { ForceUpdate?: number } } };
    updated.set(name, Date.now());
    const forced = (now.Spec.TaskTemplate?.ForceUpdate ?? 0) + (force ? 1 : 0);
    await svc.update({ version: now.Version.Index, ...spec, TaskTemplate: stamped(forced) });
    return false;
  }

  /** Its tasks meant to run (`any`: also those being stopped, still running until they have). */
  async function tasksOf(name?: string, any = false, known?: Awaited<ReturnType<typeof nodeNames>>): Promise<Task[]> {
    const filters: Record<string, string[]> = any ? {} : { 'desired-state': ['running'] };
    if (name) filters.service = [serviceName(name)];
    const [tasks, nodes] = await Promise.all([(await m()).listTasks({ filters: JSON.stringify(filters) }) as Promise<Task[]>, known ?? nodeNames()]);
    // A node that is down reports nothing: its tasks keep the last state it sent (`running`,
    // for a worker that ran there when it died) although nothing can reach them. Counted as
    // running, a tenant on a dead node was online at a dead address and its sleep waited
    // for a task that could never be seen stopping.
    const down = new Set([...nodes].filter(([, n]) => !n.ready).map(([id]) => id));
    return tasks.map((t) => (down.has(t.NodeID) && t.Status.State === 'running' ? { ...t, Status: { ...t.Status, State: 'orphaned' } } : t));
  }

  /**
   * The edge's update is over and each of its tasks runs: until then (stop-first, one task
   * per node) the old task still answers with what it had (after a takeover: routes from
   * the lost host), then for a moment nothing does. `silo up` returns once the edge it
   * asked for serves.
   */
  async function edgeSettled(manager: Docker, timeoutMs = 120_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const svc = await findEdge(manager);
      const update = (svc as { UpdateStatus?: { State?: string; Message?: string } } | undefined)?.UpdateStatus;
      if (update?.State && /rollback|paused/.test(update.State)) throw new SiloError(`the edge service's update failed: ${update.Message ?? update.State}`);
      // Edge nodes that are up (a task on a node that is down waits for it, as the node does).
      const edgeNodes = (await manager.listNodes({ filters: JSON.stringify({ 'node.label': [`${EDGE_LABEL}=true`] }) })) as { ID: string; Status?: { State?: string } }[];
      if (edgeNodes.length === 0) throw new SiloError(`SILO_EDGE_PORT is set but no node is labelled ${EDGE_LABEL}=true: docker node update --label-add ${EDGE_LABEL}=true <node>`);
      const up = new Set(edgeNodes.filter((n) => n.Status?.State === 'ready').map((n) => n.ID));
      const tasks = svc ? ((await manager.listTasks({ filters: JSON.stringify({ service: [EDGE_SERVICE], 'desired-state': ['running'] }) })) as Task[]).filter((t) => up.has(t.NodeID)) : [];
      if (update?.State !== 'updating' && tasks.length > 0 && tasks.length >= up.size && tasks.every((t) => t.Status.State === 'running')) return;
      if (Date.now() > end) throw new SiloError(`the edge service did not run within ${timeoutMs / 1000} s (its tasks: ${tasks.map((t) => t.Status.State + (t.Status.Err ? `: ${t.Status.Err}` : '')).join(', ') || 'none'})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** The edge service (edge-service.ts): made, or updated when its spec's stamp changed. */
  const edge = {
    async ensure(cfg: SiloConfig): Promise<boolean> {
      const manager = await m();
      const token = ensureEdgeToken(homePaths(cfg.home).edgeToken);
      const wanted = `silo-edge-token-${createHash('sha256').update(token).digest('hex').slice(0, 12)}`;
      let secret = ((await manager.listSecrets({ filters: JSON.stringify({ name: [wanted] }) })) as { ID: string; Spec?: { Name?: string } }[]).find((x) => x.Spec?.Name === wanted);
      if (!secret) {
        const made = (await manager.createSecret({ Name: wanted, Labels: { 'silo.edge-token': '1' }, Data: Buffer.from(token).toString('base64') })) as { id?: string; ID?: string };
        secret = { ID: String(made.id ?? made.ID) };
      }
      const img = edgeImage(cfg);
      const [, ...others] = await engines();
      await ensureWorkerImage(manager, others, opts.base, img);
      // This host must be one the edge asks (the waker listens on its Swarm address).
      await controlAddress(manager);
      const spec = edgeServiceSpec(cfg, { image: img.tag, secret: { id: secret.ID, name: wanted }, control: await controlAddresses(manager, cfg.edgeControlPort) });
      const stamp = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
      const stamped = { ...spec, Labels: { ...spec.Labels, [SPEC_LABEL]: stamp } };
      const found = await findEdge(manager);
      if (!found) {
        await manager.createService(stamped as unknown as Docker.CreateServiceOptions);
        await edgeSettled(manager);
        return true;
      }
      if (found.Spec?.Labels?.[SPEC_LABEL] === stamp) return false;
      await manager.getService(found.ID!).update({ version: found.Version!.Index, ...stamped });
      await edgeSettled(manager);
      return true;
    },
    async remove(): Promise<boolean> {
      const manager = await m();
      const found = await findEdge(manager);
      if (found) await manager.getService(found.ID!).remove();
      const secrets = (await manager.listSecrets({ filters: JSON.stringify({ label: ['silo.edge-token'] }) })) as { ID: string }[];
      await removeSecrets(manager, secrets.map((x) => x.ID));
      return !!found;
    },
  };

  const controlState = {
    async check(cfg: SiloConfig): Promise<void> {
      await assertControl(await m(), cfg.home);
    },
    async publish(cfg: SiloConfig, stamp?: string): Promise<string> {
      return (await publishControlState(await m(), cfg.home, stamp)).stamp;
    },
    async forget(cfg: SiloConfig): Promise<number> {
      const manager = await m();
      const versions = await assertControl(manager, cfg.home);
      for (const v of versions) await manager.getConfig(v.id).remove();
      return versions.length;
    },
    async adopt(cfg: SiloConfig, keyFile: string) {
      // The new home's engines (its own manager first) and a stack not yet running here:
      // its first `silo up` records the settings it runs with.
      const adjust = (text: string) => {
        const reg = JSON.parse(text) as Registry;
        if (reg.settings) Object.assign(reg.settings, { swarmEngines: cfg.swarmEngines, running: false });
        return JSON.stringify(reg, null, 2) + '\n';
      };
      const r = await adoptControlState(await m(), cfg.home, readControlKey(keyFile), adjust);
      // Releases are not in the copy (they may be large): each one a tenant runs is in its
      // worker's image, on every node, and is taken from there.
      const reg = JSON.parse(readFileSync(homePaths(cfg.home).registry, 'utf8')) as Registry;
      for (const [name, t] of Object.entries(reg.tenants)) {
        if (!t.release) continue;
        const image = (((await (await find(name))?.inspect()) as { Spec?: { TaskTemplate?: { ContainerSpec?: { Image?: string } } } } | undefined)?.Spec?.TaskTemplate?.ContainerSpec?.Image);
        if (image) await copyOutOfImage(await m(), image, '/srv/app', join(cfg.home, 'releases', t.release.id));
      }
      return { seq: r.from.seq, from: r.from.node, at: r.from.at, files: r.files, tenants: r.tenants };
    },
    async describe(cfg: SiloConfig) {
      const versions = await controlVersions(await m());
      return { versions: versions.map(({ seq, node, at }) => ({ seq, node, at })), ours: versions[0] !== undefined && versions[0].controller === readControllerId(cfg.home) };
    },
  };

  const runtime: TenantRuntime = {
    kind: 'swarm',
    edge,
    controlState,
    async workers() {
      // One listing of the nodes for both: names and addresses, and which are down.
      const nodes = await nodeNames();
      const [services, tasks] = await Promise.all([(await m()).listServices({ filters: JSON.stringify({ label: ['silo.tenant'] }) }), tasksOf(undefined, false, nodes)]);
      const out: Workers = new Map();
      for (const s of services) {
        const name = s.Spec?.Labels?.['silo.tenant'];
        if (!name || s.Spec?.Name !== `${SERVICE_PREFIX}${name}`) continue;
        const mine = tasks.filter((t) => t.ServiceID === s.ID).sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
        const running = mine.find((t) => t.Status.State === 'running');
        const latest = running ?? mine[0];
        const replicas = s.Spec?.Mode?.Replicated?.Replicas ?? 0;
        const node = latest ? nodes.get(latest.NodeID) : undefined;
        const port = (s.Spec?.EndpointSpec?.Ports ?? [])[0]?.PublishedPort;
        const status: WorkerStatus = {
          state: running ? 'online' : replicas === 0 ? 'stopped' : (latest?.Status.State ?? 'pending'),
          online: !!running,
          node: node?.name,
          ...(running && node?.addr && port ? { address: `${node.addr}:${port}` } : {}),
          entry: s.Spec?.Labels?.['silo.entry'] ?? '',
        };
        if (replicas > 0 || running) out.set(name, status);
      }
      return out;
    },
    async start(cfg, reg, name, now) {
      if (!reg.tenants[name] || reg.tenants[name]!.state !== 'ready') return false;
      if ((now ?? (await runtime.workers())).get(name)?.online) {
        await runtime.waitReady(cfg, name);
        return false;
      }
      await put(cfg, reg, name, 1);
      await runtime.waitReady(cfg, name);
      return true;
    },
    async stop(name) {
      const svc = await find(name);
      if (svc) await svc.remove();
      await removeSecrets(await m(), await secretsOf(name));
      return !!svc;
    },
    async reload(cfg, reg, name) {
      await put(cfg, reg, name, 1);
    },
    async restart(cfg, reg, name) {
      await put(cfg, reg, name, 1, true);
      await runtime.waitReady(cfg, name);
    },
    async sleep(name) {
      const svc = await find(name);
      if (!svc) return false;
      const now = (await svc.inspect()) as { Version: { Index: number }; Spec: Docker.ServiceSpec };
      const was = now.Spec.Mode?.Replicated?.Replicas ?? 0;
      if (was > 0) await svc.update({ version: now.Version.Index, ...now.Spec, Mode: { Replicated: { Replicas: 0 } } });
      // Asleep once its task has stopped (it finishes its requests first), as under PM2.
      const end = Date.now() + 60_000;
      while ((await tasksOf(name, true)).some((t) => t.Status.State === 'running') && Date.now() < end) await new Promise((r) => setTimeout(r, 250));
      return was > 0;
    },
    async wake(cfg, reg, name) {
      // Scaled to zero (or never created): back to one. Otherwise Swarm is starting or
      // moving its task already (an update, a dead node): wait for it, change nothing.
      const svc = await find(name);
      const replicas = svc ? (((await svc.inspect()) as { Spec: Docker.ServiceSpec }).Spec.Mode?.Replicated?.Replicas ?? 0) : 0;
      if (replicas === 0) await put(cfg, reg, name, 1);
      await runtime.waitReady(cfg, name);
      return replicas === 0;
    },
    async activity(only) {
      const now = Date.now();
      const [services, tasks] = await Promise.all([
        (await m()).listServices({ filters: JSON.stringify(only ? { name: [serviceName(only)] } : { label: ['silo.tenant'] }) }),
        tasksOf(only),
      ]);
      const out = new Map<string, WorkerActivity>();
      await Promise.all(
        services.map(async (s) => {
          const name = s.Spec?.Labels?.['silo.tenant'];
          if (!name || s.Spec?.Name !== serviceName(name)) return;
          // Its newest running task (two run only during a start-first update: busy, not idle).
          const [task] = tasks.filter((t) => t.ServiceID === s.ID && t.Status.State === 'running').sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
          if (!task) return;
          const startedAt = Date.parse(task.Status.Timestamp ?? task.CreatedAt);
          out.set(name, { startedAt: Number.isFinite(startedAt) ? startedAt : now, servedAt: await servedAt(task, now) });
        }),
      );
      return out;
    },
    async nodes() {
      const nodes = (await (await m()).listNodes()) as { Description?: { Hostname?: string }; Status?: { Addr?: string; State?: string }; Spec?: { Availability?: string } }[];
      return nodes.map((n) => ({ name: n.Description?.Hostname ?? '', addr: n.Status?.Addr ?? '', ready: n.Status?.State === 'ready' && n.Spec?.Availability === 'active' }));
    },
    async waitReady(_cfg, name, timeoutMs = 120_000) {
      const end = Date.now() + timeoutMs;
      let last = 'no task yet';
      for (;;) {
        // An update under way (a deploy, a move) is over first: until then the running task
        // may be the old one. One that failed was rolled back by Swarm: its message says why.
        const svc = await find(name);
        const inspected = svc ? ((await svc.inspect()) as { UpdateStatus?: { State?: string; Message?: string; StartedAt?: string }; Spec?: { TaskTemplate?: { ContainerSpec?: { Labels?: Record<string, string> } } } }) : undefined;
        const update = inspected?.UpdateStatus;
        // The task made from the service's template as it is now (a service from before the stamp: any).
        const want = stampOf(inspected?.Spec?.TaskTemplate);
        const current = (t: Task) => want === undefined || stampOf(t.Spec) === want;
        // (A rollback of an update this process did not ask for, an older one, is history.)
        const ours = update?.StartedAt !== undefined && Date.parse(update.StartedAt) >= (updated.get(name) ?? Infinity) - 2000;
        if (ours && update?.State && /rollback|paused/.test(update.State)) throw new SiloError(`the update of ${name}'s worker failed and was rolled back: ${update.Message ?? update.State}`);
        const tasks = await tasksOf(name);
        if (update?.State !== 'updating' && tasks.some((t) => t.Status.State === 'running' && current(t))) return;
        const t = tasks[0];
        if (t) last = update?.State === 'updating' ? 'updating' : `${t.Status.State}${t.Status.Err ? `: ${t.Status.Err}` : ''}`;
        if (Date.now() > end) throw new SiloError(`the worker of ${name} was not ready within ${timeoutMs / 1000} s (its task: ${last})`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
  };
  // Each call made again while the managers elect a leader (transient.ts); the calls
  // between the runtime's own methods stay single.
  return { ...retryingMethods(runtime), edge: retryingMethods(edge), controlState: retryingMethods(controlState) };
}
