/**
 * The runtime driver contract: what the stack and the tenant operations ask of whatever
 * runs one tenant's worker, so that neither knows which runtime it drives. `pm2` (one
 * host, the default) runs each worker as a PM2 app; `swarm` (several hosts) runs each as
 * a Docker Swarm service of one replica. Which one a stack uses is the recorded setting
 * SILO_RUNTIME (src/registry/settings.ts). Only the tenants' workers go through here: the
 * control plane's own processes (the proxy, an embedded server, the waker) stay PM2 apps
 * of the host that runs `silo up`.
 */
import type { SiloConfig } from '../common/config.js';
import type { Registry } from '../registry/registry.js';

export type RuntimeKind = 'pm2' | 'swarm';
export const RUNTIME_KINDS: readonly RuntimeKind[] = ['pm2', 'swarm'];

/** One tenant's worker as its runtime reports it. */
export interface WorkerStatus {
  /** the runtime's word for it: `online`, `stopped`, `errored`, `launching`, ... */
  state: string;
  /** it runs and may take requests once ready */
  online: boolean;
  pid?: number;
  memoryMB?: number;
  restarts?: number;
  /** the app module it runs ('' = the bundled sample), when the runtime knows */
  entry?: string;
  /** the host it runs on (a Swarm node; PM2: undefined, this host) */
  node?: string;
  /** where the proxy reaches it over the network (`address:port`; PM2: undefined, its Unix socket) */
  address?: string;
  /** it runs, but as an older silo defined it and must be started again (not reloaded) */
  stale?: string;
}

/** Tenants' workers by tenant name (a tenant without one is absent). */
export type Workers = Map<string, WorkerStatus>;

export interface TenantRuntime {
  readonly kind: RuntimeKind;
  /** status: every tenant's worker this stack runs now (asks nothing to start). */
  workers(): Promise<Workers>;
  /** start: the worker of a ready tenant unless it runs, then wait until it is ready; true if it started one. */
  start(cfg: SiloConfig, reg: Registry, name: string, now?: Workers): Promise<boolean>;
  /** stop: stop and forget the tenant's worker; true if there was one. */
  stop(name: string): Promise<boolean>;
  /**
   * reload onto its definition in `reg` now (changed settings, another release: the
   * caller passes the registry as it should run). Returns once the runtime has taken it,
   * not once it is ready (a move reloads it before its database is there): `waitReady`.
   */
  reload(cfg: SiloConfig, reg: Registry, name: string): Promise<void>;
  /** restart it as defined in `reg` without a moment where no ready process serves it (`silo reload`). */
  restart(cfg: SiloConfig, reg: Registry, name: string): Promise<void>;
  /** scale to zero: hibernate it (nothing runs until `wake`); true if something ran. */
  sleep(name: string): Promise<boolean>;
  /** and back to one, ready; true if it started one. */
  wake(cfg: SiloConfig, reg: Registry, name: string): Promise<boolean>;
  /** wait until its worker answers /readyz. */
  waitReady(cfg: SiloConfig, name: string, timeoutMs?: number): Promise<void>;
  /**
   * idleness, for hibernation: when each running worker (or only `name`'s) last served a
   * request and when it started, epoch ms on this host's clock; a worker the runtime has
   * no news of counts as serving now. PM2: absent (the waker reads the workers' activity
   * files on this host).
   */
  activity?(name?: string): Promise<Map<string, WorkerActivity>>;
  /** the hosts workers may run on, when there are several (Swarm's nodes); PM2: absent */
  nodes?(): Promise<NodeStatus[]>;
  /**
   * The proxy as a service on the edge nodes (Swarm with SILO_EDGE_PORT; src/proxy/edge.ts):
   * `ensure` creates it or updates it when its definition changed (true if it did),
   * `remove` stops it. PM2: absent (the edge is the proxy PM2 runs on this host).
   */
  edge?: { ensure(cfg: SiloConfig): Promise<boolean>; remove(): Promise<boolean> };
  /**
   * The control plane's state kept where every manager can read it (Swarm:
   * src/runtime/swarm/control-state.ts), so another host can take the control plane over.
   * `check` throws when another home controls the stack; `publish` writes the home's state
   * when it changed since `stamp` and returns the stamp it holds; `forget` removes every
   * copy (`silo down --purge`). PM2: absent (one host: the home is the control plane).
   */
  controlState?: {
    check(cfg: SiloConfig): Promise<void>;
    publish(cfg: SiloConfig, stamp?: string): Promise<string>;
    forget(cfg: SiloConfig): Promise<number>;
    /** take the control plane over into cfg.home (empty) from the newest copy, opened with the key in `keyFile` */
    adopt(cfg: SiloConfig, keyFile: string): Promise<{ seq: number; from: string; at: string; files: number; tenants: number }>;
    /** the copies in the swarm, newest first, and whether this home wrote the newest */
    describe(cfg: SiloConfig): Promise<{ versions: { seq: number; node: string; at: string }[]; ours: boolean }>;
  };
}

export interface WorkerActivity {
  servedAt: number;
  startedAt: number;
}

export interface NodeStatus {
  name: string;
  /** its address on the hosts' network */
  addr: string;
  /** the runtime schedules workers there now */
  ready: boolean;
}
