/**
 * A Docker engine of the test's own: containerd and dockerd (Debian's docker.io) with their
 * own state folders and sockets under `dir`, in a network namespace of their own that has
 * only loopback. Nothing is shared with another engine on the machine (another test's, the
 * host's): not the data root, not /run/containerd, not the bridge, not iptables rules.
 * stop() ends both daemons by PID, unmounts what they left, deletes the namespace and `dir`.
 *
 * Containers reach nothing outside the namespace. An image build that needs apt or npm gets
 * them through buildProxy(): an HTTP proxy in this process (the host's network), reached
 * from inside the namespace through a Unix socket.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { processesOf } from '../../src/testing/home.js';

/** Debian's docker CLI and compose first: a docker in /usr/local/bin may be another version. */
export const DOCKER_PATH = '/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin';

export interface Engine {
  dir: string;
  netns: string;
  /** unix:///.../docker.sock */
  host: string;
  /** the address of the bridge's gateway inside the namespace (containers reach it) */
  gateway: string;
  /** an environment for docker and docker-compose talking to this engine */
  env: NodeJS.ProcessEnv;
  /** run a program inside the namespace (e.g. curl to a published port) */
  inNetns(args: string[], opts?: SpawnSyncOptions): ReturnType<typeof spawnSync>;
  stop(): Promise<void>;
}

const CGROUPS = '/sys/fs/cgroup';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function dockerAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (a Docker engine of its own)';
  for (const p of ['/usr/sbin/dockerd', '/usr/bin/containerd', '/usr/bin/docker', '/usr/bin/docker-compose', '/usr/sbin/debootstrap', '/usr/bin/nsenter']) {
    if (!existsSync(p)) return `needs ${p} (npm test installs docker.io, docker-compose and debootstrap)`;
  }
  return undefined;
}

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

function spawnLogged(args: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a');
  try {
    return spawn(args[0]!, args.slice(1), { stdio: ['ignore', fd, fd], env: { PATH: DOCKER_PATH, HOME: '/root' } });
  } finally {
    closeSync(fd);
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => boolean, child?: ChildProcess, log?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (child && child.exitCode !== null) throw new Error(`${what}: it exited (${child.exitCode}):\n${log ? readFileSync(log, 'utf8').slice(-3000) : ''}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${log ? `:\n${readFileSync(log, 'utf8').slice(-3000)}` : ''}`);
    await sleep(200);
  }
}

async function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Mount points under dir (the engine's overlays, its namespace files), deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export async function startEngine(dir: string, opts: { bridgeCidr?: string } = {}): Promise<Engine> {
  mkdirSync(dir, { recursive: true });
  const netns = `silo-docker-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const cidr = opts.bridgeCidr ?? '10.213.0.1/24';
  const gateway = cidr.split('/')[0]!;
  const sock = join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  let containerd: ChildProcess | undefined;
  let dockerd: ChildProcess | undefined;

  const stop = async () => {
    if (dockerd && dockerd.exitCode === null) {
      dockerd.kill('SIGTERM');
      if (!(await exited(dockerd, 45_000))) {
        dockerd.kill('SIGKILL');
        await exited(dockerd, 10_000);
      }
    }
    if (containerd && containerd.exitCode === null) {
      containerd.kill('SIGTERM');
      if (!(await exited(containerd, 15_000))) {
        containerd.kill('SIGKILL');
        await exited(containerd, 10_000);
      }
    }
    // Shims of containers dockerd did not stop (it was killed): they name our socket.
    for (const pid of processesOf(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const m of mountsUnder(dir)) run('umount', ['-l', m]);
    for (const controller of existsSync(CGROUPS) ? readdirSync(CGROUPS) : []) {
      const group = join(CGROUPS, controller, netns);
      if (existsSync(group)) run('rmdir', [group]);
    }
    run('ip', ['netns', 'delete', netns]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const add = run('ip', ['netns', 'add', netns]);
    if (add.status !== 0) throw new Error(`ip netns add ${netns}: ${add.stderr}`);
    run('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
    // nsenter --net, not `ip netns exec`: that one remounts /sys, and dockerd then finds no cgroups.
    const enter = ['nsenter', `--net=/run/netns/${netns}`];

    const cdSock = join(dir, 'containerd.sock');
    const cdConfig = join(dir, 'containerd.toml');
    writeFileSync(
      cdConfig,
      [
        'version = 2',
        `root = "${join(dir, 'containerd', 'root')}"`,
        `state = "${join(dir, 'containerd', 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${cdSock}"`,
        '[ttrpc]',
        `  address = "${cdSock}.ttrpc"`,
        '[debug]',
        `  address = "${join(dir, 'containerd-debug.sock')}"`,
        '',
      ].join('\n'),
    );
    const cdLog = join(dir, 'containerd.log');
    containerd = spawnLogged([...enter, 'containerd', '--config', cdConfig], cdLog);
    await waitFor('containerd', 30_000, () => existsSync(cdSock), containerd, cdLog);

    const daemonJson = join(dir, 'daemon.json');
    // Not /etc/docker/daemon.json: this engine is the test's alone. Its identity key and
    // its containers' control groups are its own too (not /etc/docker/key.json, /docker/).
    writeFileSync(daemonJson, `${JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json'), 'cgroup-parent': `/${netns}` })}\n`);
    const dLog = join(dir, 'dockerd.log');
    dockerd = spawnLogged(
      [
        ...enter,
        'dockerd',
        '--config-file', daemonJson,
        '--containerd', cdSock,
        '--data-root', join(dir, 'data'),
        '--exec-root', join(dir, 'exec'),
        '--pidfile', join(dir, 'docker.pid'),
        '-H', host,
        '--bip', cidr,
        '--log-level', 'warn',
      ],
      dLog,
    );
    const env: NodeJS.ProcessEnv = { PATH: DOCKER_PATH, HOME: dir, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'client'), LANG: 'C.UTF-8' };
    mkdirSync(join(dir, 'client'), { recursive: true });
    await waitFor('dockerd', 60_000, () => existsSync(sock) && run('docker', ['version', '--format', '{{.Server.Version}}'], { env }).status === 0, dockerd, dLog);

    return {
      dir,
      netns,
      host,
      gateway,
      env,
      inNetns: (args, o = {}) => spawnSync('nsenter', [`--net=/run/netns/${netns}`, ...args], { encoding: 'utf8', ...o }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * An HTTP proxy (plain requests and CONNECT) for image builds inside the engine's namespace:
 * it listens on `port` of every address in the namespace (the bridge gateway included), and
 * forwards each connection through a Unix socket to this process, which connects out from
 * the host's network. Pass its url as the http_proxy/https_proxy build arguments.
 */
export async function buildProxy(engine: Engine, port = 3128): Promise<{ url: string; stop(): Promise<void> }> {
  const sockPath = join(engine.dir, 'build-proxy.sock');
  const sockets = new Set<Socket>();
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const out = httpRequest(
      { host: target.hostname, port: target.port || 80, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.headersSent ? res.destroy() : res.writeHead(502).end());
    req.pipe(out);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const [h, p] = (req.url ?? '').split(':');
    const up = connect(Number(p) || 443, h!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up).add(client);
    const done = () => {
      up.destroy();
      client.destroy();
    };
    up.on('error', done).on('close', done);
    client.on('error', done).on('close', done);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => server.listen(sockPath, resolve).once('error', reject));

  // Inside the namespace: TCP -> the Unix socket.
  const code = `const net=require('node:net');const [port,sock]=process.argv.slice(1);net.createServer((c)=>{const u=net.connect(sock);c.pipe(u);u.pipe(c);const end=()=>{c.destroy();u.destroy();};c.on('error',end).on('close',end);u.on('error',end).on('close',end);}).listen(Number(port),'0.0.0.0',()=>console.log('listening'));`;
  const log = join(engine.dir, 'build-proxy.log');
  const fwd = spawnLogged(['nsenter', `--net=/run/netns/${engine.netns}`, process.execPath, '-e', code, String(port), sockPath], log);
  await waitFor('the build proxy', 20_000, () => existsSync(log) && readFileSync(log, 'utf8').includes('listening'), fwd, log);
  return {
    url: `http://${engine.gateway}:${port}`,
    async stop() {
      fwd.kill('SIGTERM');
      await exited(fwd, 10_000);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(sockPath, { force: true });
    },
  };
}
