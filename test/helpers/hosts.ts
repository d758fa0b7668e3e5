/**
 * Hosts for a test: network namespaces standing in for machines, each running its own
 * dockerd, joined into one Docker Swarm. A fourth namespace (the hub) holds the bridge
 * they are cabled to by veth pairs, on a private 192.168.x.0/24 that exists only inside
 * these namespaces: nothing is added to the real network or the root namespace. (Swarm
 * takes its overlay subnets from 10.0.0.0/8, so the hosts' own range is elsewhere.)
 *
 * Each dockerd has its own data-root, exec-root, pidfile and socket under the test's
 * folder, and a private mount namespace (`unshare --mount`: its mounts vanish with
 * it; /sys stays the host's, for its cgroups). The test reaches each engine through its Unix socket from outside, and reaches
 * addresses on the hosts' network only from inside a namespace (`exec`).
 *
 * Tear-down kills, by PID, every process inside a namespace it made (`ip netns pids`:
 * the daemons, their containerd and shims, containers), then removes the namespaces and
 * the folder. It runs on the test process's SIGTERM or SIGINT too (an interrupted suite
 * runner, scripts/test.js, passes its signal on), which end a process without its
 * teardowns: the dockerds are detached and would outlive it. Namespaces are named after the test's PID: a run killed
 * (SIGKILL) before its tear-down is cleaned by the next one (its PID is gone), nobody
 * else's is touched.
 * Mechanics of this kernel (no IPVS: no ingress mesh, no service VIPs): publish ports
 * in host mode or use `endpoint_mode: dnsrr`, create services with --no-resolve-image (`--resolve-image never` in stack files).
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const project = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PREFIX = 'silo-h';
/** Debian's client, the engine's own version (its API version is the engine's). */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface Host {
  /** node1, node2, ... (also its Swarm hostname) */
  name: string;
  /** its network namespace */
  ns: string;
  /** its address on the hosts' network */
  addr: string;
  /** its dockerd's API socket (unix path) */
  socket: string;
  root: string;
  /** the PID of its dockerd while it runs */
  pid?: number;
}

export interface Hosts {
  nodes: Host[];
  /** the namespace holding the bridge (a client on the hosts' network, no engine) */
  hub: string;
  subnet: string;
  /** `docker` against one host's engine; stdout */
  docker(node: Host, args: string[], input?: Buffer | string): Promise<string>;
  /** run a program inside a namespace (a client on the hosts' network) */
  exec(ns: string, cmd: string, args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** `docker save` from one host into `docker load` on the others */
  shareImage(tag: string, from?: Host): Promise<void>;
  /** the node dies: every process in its namespace killed (SIGKILL), its link down */
  killNode(node: Host): Promise<void>;
  /** its link up and its engine started again (it rejoins the swarm by itself) */
  startNode(node: Host): Promise<void>;
  stop(): Promise<void>;
}

const ip = (...args: string[]) => run('ip', args, { timeout: 20_000 });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function namespaces(): Promise<string[]> {
  const out = (await ip('netns', 'list')).stdout;
  return out.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

/** Every process's parent, from /proc. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      out.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * The processes inside `ns` and all their descendants: a container's processes live in
 * namespaces of their own under the shim that the node's containerd started.
 */
async function treeOf(ns: string): Promise<Set<number>> {
  const inNs = (await ip('netns', 'pids', ns).catch(() => ({ stdout: '' }))).stdout.split(/\s+/).filter(Boolean).map(Number);
  const set = new Set(inNs);
  const ppid = parents();
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of ppid) if (!set.has(pid) && set.has(parent)) (set.add(pid), (grew = true));
  }
  return set;
}

const signalAll = (pids: Iterable<number>, sig: NodeJS.Signals) => {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone meanwhile
    }
  }
};

/**
 * SIGKILL every process inside `ns` and below (all started by us), until none is left:
 * stopped first, so none forks a child the kill would miss (an orphan leaves the tree).
 */
async function killAllIn(ns: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const first = await treeOf(ns);
    if (first.size === 0) return;
    signalAll(first, 'SIGSTOP');
    const all = new Set([...first, ...(await treeOf(ns))]);
    signalAll(all, 'SIGKILL');
    await sleep(100);
  }
  throw new Error(`processes are left in namespace ${ns}`);
}

async function removeNamespace(ns: string): Promise<void> {
  await killAllIn(ns);
  await ip('netns', 'del', ns).catch(() => undefined);
}

/** Namespaces of an earlier run whose process is gone (a run killed before its tear-down). */
async function cleanLeftovers(): Promise<void> {
  for (const ns of await namespaces()) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(ns);
    if (m && !alive(Number(m[1]))) await removeNamespace(ns);
  }
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** The tear-downs of the hosts this process has started and not yet stopped. */
const running = new Set<() => Promise<void>>();
let signalled = false;

/** On SIGTERM/SIGINT: every tear-down (once, whatever signals follow), then die of the signal. */
function onStopSignal(sig: NodeJS.Signals): void {
  if (signalled) return;
  signalled = true;
  void Promise.allSettled([...running].map((stop) => stop())).then(() => {
    for (const s of STOP_SIGNALS) process.removeListener(s, onStopSignal);
    process.kill(process.pid, sig);
  });
}

function stopOnSignal(stop: () => Promise<void>): void {
  if (process.listeners('SIGTERM').includes(onStopSignal) === false) for (const s of STOP_SIGNALS) process.on(s, onStopSignal);
  running.add(stop);
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
    await sleep(250);
  }
}

function startEngine(h: Host): void {
  mkdirSync(h.root, { recursive: true });
  const log = openSync(join(h.root, 'dockerd.log'), 'a');
  // Entering the namespace with nsenter, in a mount namespace of its own (`ip netns exec`
  // would mount a fresh /sys without the cgroup hierarchies dockerd needs).
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${h.ns}`, '--',
      // and a hostname of its own (its name in the swarm)
      'unshare', '--mount', '--uts', '--propagation', 'slave', '--',
      'sh', '-c', 'hostname "$0" && exec dockerd "$@"', h.name,
      '--data-root', join(h.root, 'data'),
      '--exec-root', join(h.root, 'exec'),
      '--pidfile', join(h.root, 'dockerd.pid'),
      '-H', `unix://${h.socket}`,
      '--storage-driver', 'overlay2',
      // Its own bridge range, and none of the host's: nothing clashes with the hosts' network.
      '--bip', '172.31.255.1/24',
      '--iptables=true',
      '--userland-proxy=false',
    ],
    { stdio: ['ignore', log, log], detached: true, env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' } },
  );
  child.unref();
}

async function engineReady(h: Host): Promise<void> {
  await waitFor(`the engine of ${h.name}`, 60_000, async () => {
    await run(DOCKER, ['-H', `unix://${h.socket}`, 'version', '--format', '{{.Server.Version}}'], { timeout: 5000 });
    return true;
  }).catch((err: Error) => {
    const log = existsSync(join(h.root, 'dockerd.log')) ? readFileSync(join(h.root, 'dockerd.log'), 'utf8').slice(-2000) : '';
    throw new Error(`${err.message}\n${log}`);
  });
  h.pid = Number(readFileSync(join(h.root, 'dockerd.pid'), 'utf8').trim());
}

export async function startHosts(t: { teardown(fn: () => unknown): void; comment(...a: unknown[]): void }, count = 3, opts: { managers?: boolean } = {}): Promise<Hosts> {
  if (process.getuid?.() !== 0) throw new Error('hosts need root (network namespaces, dockerd)');
  await cleanLeftovers();
  const tag = `${PREFIX}${process.pid}-`;
  const root = mkdtempSync(join(tmpdir(), 'silo-hosts-'));
  const third = 100 + (process.pid % 150);
  const subnet = `192.168.${third}.0/24`;
  const hub = `${tag}hub`;
  const nodes: Host[] = Array.from({ length: count }, (_, i) => ({
    name: `node${i + 1}`,
    ns: `${tag}n${i + 1}`,
    addr: `192.168.${third}.${i + 11}`,
    // A short path: a Unix socket's path is limited to 108 bytes.
    socket: join(root, `n${i + 1}`, 'docker.sock'),
    root: join(root, `n${i + 1}`),
  }));

  // One tear-down, however many ask (the test's teardown, a signal meanwhile): all wait for it.
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // SILO_HOSTS_LOGS=<folder>: each engine's log kept there, for a look after a failure.
      const keep = process.env.SILO_HOSTS_LOGS;
      if (keep) {
        for (const h of nodes) if (existsSync(join(h.root, 'dockerd.log'))) cpSync(join(h.root, 'dockerd.log'), join(keep, `${h.name}-dockerd.log`));
        // And every service's last lines, from the first manager that answers.
        for (const h of nodes) {
          const ls = await run(DOCKER, ['-H', `unix://${h.socket}`, 'service', 'ls', '--format', '{{.Name}}'], { timeout: 10_000 }).catch(() => undefined);
          if (!ls) continue;
          for (const name of ls.stdout.trim().split('\n').filter(Boolean)) {
            const logs = await run(DOCKER, ['-H', `unix://${h.socket}`, 'service', 'logs', '--timestamps', '--tail', '400', name], { timeout: 20_000, maxBuffer: 64 << 20 }).catch((e: { stdout?: string; stderr?: string }) => e);
            writeFileSync(join(keep, `service-${name}.log`), `${logs.stdout ?? ''}${logs.stderr ?? ''}`);
          }
          break;
        }
      }
      for (const h of nodes) await removeNamespace(h.ns).catch((err: Error) => t.comment(`tear-down of ${h.ns}: ${err.message}`));
      await removeNamespace(hub).catch(() => undefined);
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
      running.delete(stop);
    })());
  t.teardown(stop);
  stopOnSignal(stop);

  try {
    await ip('netns', 'add', hub);
    await ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', hub, 'addr', 'add', `192.168.${third}.1/24`, 'dev', 'br0');
    await ip('-n', hub, 'link', 'set', 'br0', 'up');
    await ip('-n', hub, 'link', 'set', 'lo', 'up');
    for (const [i, h] of nodes.entries()) {
      await ip('netns', 'add', h.ns);
      await ip('-n', hub, 'link', 'add', `v${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns);
      await ip('-n', hub, 'link', 'set', `v${i + 1}`, 'master', 'br0');
      await ip('-n', hub, 'link', 'set', `v${i + 1}`, 'up');
      await ip('-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', 'eth0');
      await ip('-n', h.ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', h.ns, 'link', 'set', 'lo', 'up');
      // A default route onto the hub: Docker wants one to pick its address.
      await ip('-n', h.ns, 'route', 'add', 'default', 'via', `192.168.${third}.1`);
    }
    for (const h of nodes) startEngine(h);
    await Promise.all(nodes.map(engineReady));
  } catch (err) {
    await stop();
    throw err;
  }

  const docker = async (h: Host, args: string[], input?: Buffer | string): Promise<string> => {
    if (input === undefined) return (await run(DOCKER, ['-H', `unix://${h.socket}`, ...args], { timeout: 120_000, maxBuffer: 64 << 20 })).stdout;
    return new Promise((resolve, reject) => {
      const child = execFile(DOCKER, ['-H', `unix://${h.socket}`, ...args], { timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      child.stdin!.on('error', () => undefined); // a docker that exits before reading says why through err
      child.stdin!.end(input);
    });
  };
  const exec = async (ns: string, cmd: string, args: string[], opts: { timeoutMs?: number } = {}) =>
    (await run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20 })).stdout;

  try {
    const [first, ...rest] = nodes;
    await docker(first!, ['swarm', 'init', '--advertise-addr', first!.addr, '--listen-addr', `${first!.addr}:2377`]);
    // Managers, each: the Raft store (and silo's control state in it) outlives any one node.
    const token = (await docker(first!, ['swarm', 'join-token', '-q', opts.managers ? 'manager' : 'worker'])).trim();
    for (const h of rest) await docker(h, ['swarm', 'join', '--advertise-addr', h.addr, '--listen-addr', `${h.addr}:2377`, '--token', token, `${first!.addr}:2377`]);
    await waitFor('every node ready in the swarm', 60_000, async () => {
      const out = await docker(first!, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
      return out.trim().split('\n').filter((l) => l.endsWith(' Ready')).length === nodes.length || undefined;
    });
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    nodes,
    hub,
    subnet,
    docker,
    exec,
    async shareImage(tagName, from = nodes[0]!) {
      let stdout: Buffer;
      try {
        ({ stdout } = await run(DOCKER, ['-H', `unix://${from.socket}`, 'save', tagName], { encoding: 'buffer', maxBuffer: 2 * 1024 ** 3, timeout: 300_000 }));
      } catch (err) {
        // Not the error itself: it holds the image saved so far, which tap would print whole.
        const e = err as { stderr?: Buffer; signal?: string; message: string };
        throw new Error(`docker save ${tagName} on ${from.name}: ${e.stderr?.toString().trim().split('\n').pop() || e.signal || e.message.split('\n')[0]}`);
      }
      for (const h of nodes) if (h !== from) await docker(h, ['load', '-q'], stdout);
    },
    async killNode(h) {
      await ip('-n', h.ns, 'link', 'set', 'eth0', 'down');
      await killAllIn(h.ns);
      h.pid = undefined;
    },
    async startNode(h) {
      // As after a reboot: the exec-root is under /run (a tmpfs) on a machine, so nothing
      // of it survives (a stale one restores dead containers' network state and their
      // published ports stay "already allocated").
      rmSync(join(h.root, 'exec'), { recursive: true, force: true });
      await ip('-n', h.ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', h.ns, 'route', 'replace', 'default', 'via', `192.168.${third}.1`);
      startEngine(h);
      await engineReady(h);
    },
    stop,
  };
}

/** The images docker-compose.yml names, as scripts/offline-images reads them. */
export function composeImages(): { node: string; postgres: string } {
  const node = /^ARG NODE_IMAGE=(\S+)/m.exec(readFileSync(join(project, 'docker', 'Dockerfile'), 'utf8'))?.[1];
  const postgres = /^\s*image:\s*(postgres:\S+)/m.exec(readFileSync(join(project, 'docker-compose.yml'), 'utf8'))?.[1];
  if (!node || !postgres) throw new Error('no NODE_IMAGE in docker/Dockerfile or postgres image in docker-compose.yml');
  return { node, postgres };
}

/**
 * Those images (Node, and PostgreSQL with the official image's environment) on every
 * host: made on the first by scripts/offline-images from Debian's archive (cached), then
 * `docker save | docker load` onto the others. No registry is asked.
 */
export async function offlineImages(hosts: Hosts): Promise<{ node: string; postgres: string }> {
  const first = hosts.nodes[0]!;
  await run(join(project, 'scripts', 'offline-images'), ['-H', `unix://${first.socket}`, '--no-pull'], { timeout: 900_000, maxBuffer: 64 << 20 });
  const images = composeImages();
  await hosts.shareImage(images.node);
  await hosts.shareImage(images.postgres);
  return images;
}

/** The hosts' folders under tmp that a run killed before its tear-down left (for a look). */
export function hostFolders(): string[] {
  return readdirSync(tmpdir()).filter((f) => f.startsWith('silo-hosts-'));
}
