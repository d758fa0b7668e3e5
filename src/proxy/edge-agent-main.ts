/**
 * The edge agent: the process of the edge service's container (src/proxy/edge.ts;
 * SILO_RUNTIME=swarm with SILO_EDGE_PORT). It asks the control host for the feed every
 * second with the token of its Docker secret and the ETag of the feed it applied last
 * (304 while nothing changed), writes the files nginx reads per
 * request, starts nginx once it has a config and reloads it (after `nginx -t`) only when
 * the config changed. nginx's wake path reaches the agent on a Unix socket in the
 * container; the agent forwards it to the waker on the control host with the token.
 *
 * The control host is whichever manager answers: SILO_EDGE_CONTROL lists every manager
 * (http://<address>:<port>, comma-separated); the agent keeps to the one that answered and
 * moves to the next when it stops answering (refused, no answer, an error status such as
 * a home another took over answers), so a takeover on another manager (silo control
 * adopt) needs no new edge task. SILO_EDGE_NGINX: the nginx binary in the image.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bindUnixSocket, serverListen } from '../common/unix-socket.js';
import { applyEdgeFeed, EDGE_FEED_PATH, EDGE_PATHS, EDGE_TOKEN_IN_TASK, type EdgeFeed } from './edge.js';

const log = (f: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ time: Date.now(), name: 'edge-agent', ...f })}\n`);
const controls = (process.env.SILO_EDGE_CONTROL ?? '').split(',').filter(Boolean).map((u) => new URL(u));
/** The manager asked now: the one that answered last. */
let at = 0;
const control = () => controls[at % controls.length]!;
/** The next manager, after this one failed to answer (logged when it changes). */
function next(why: string): void {
  if (controls.length < 2) return;
  const from = control().host;
  at = (at + 1) % controls.length;
  log({ msg: 'control host did not answer; asking the next manager', from, to: control().host, why });
}
const nginxBin = process.env.SILO_EDGE_NGINX ?? '/usr/sbin/nginx';
const token = readFileSync(EDGE_TOKEN_IN_TASK, 'utf8').trim();
const auth = `Bearer ${token}`;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const NOBODY = 65534;

let nginx: ChildProcess | undefined;
let stopping = false;
/** The libraries nginx links, from the image (edge-service.ts), for nginx only. */
const nginxEnv = { ...process.env, LD_LIBRARY_PATH: process.env.SILO_EDGE_LIBS ?? '' };
const nginxArgs = ['-e', 'stderr', '-p', EDGE_PATHS.nginx, '-c', join(EDGE_PATHS.nginx, 'nginx.conf')];

/** The ETag of the last feed applied: while the control host's is the same, it answers 304. */
let appliedTag: string | undefined;

/** The feed and its ETag, or undefined when it is the one applied last (304). */
function fetchFeed(): Promise<{ feed: EdgeFeed; etag?: string } | undefined> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: auth, ...(appliedTag ? { 'if-none-match': appliedTag } : {}) };
    const c = control();
    const req = request({ host: c.hostname, port: c.port, path: EDGE_FEED_PATH, headers, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        if (res.statusCode === 304) return resolve(undefined);
        if (res.statusCode !== 200) return reject(new Error(`the control host answered ${res.statusCode}`));
        try {
          resolve({ feed: JSON.parse(body) as EdgeFeed, etag: res.headers.etag });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function startNginx(): void {
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(EDGE_PATHS.nginx, 'tmp', t), { recursive: true });
    chownSync(join(EDGE_PATHS.nginx, 'tmp', t), NOBODY, NOBODY);
  }
  nginx = spawn(nginxBin, [...nginxArgs, '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'], env: nginxEnv });
  nginx.on('exit', (code, signal) => {
    log({ msg: 'nginx exited', code, signal });
    if (!stopping) process.exit(1); // Swarm starts the task again
  });
  log({ msg: 'nginx started', pid: nginx.pid });
}

async function sync(): Promise<void> {
  let fetched: Awaited<ReturnType<typeof fetchFeed>>;
  try {
    fetched = await fetchFeed();
  } catch (err) {
    next((err as Error).message);
    throw err;
  }
  if (!fetched) return; // 304: what is applied is the control host's
  const { feed, etag } = fetched;
  if (!feed.config['tenants.conf']) return; // the control host has not rendered it yet
  const changed = applyEdgeFeed(feed);
  if (!nginx) startNginx();
  else if (changed) await reload(nginx);
  // Applied, nginx started or reloaded: until the feed changes, the control host answers 304.
  appliedTag = etag;
}

/** A changed config: checked, then loaded; one nginx -t refuses is, as before, not tried again until the next. */
async function reload(running: ChildProcess): Promise<void> {
  try {
    await promisify(execFile)(nginxBin, ['-t', '-q', ...nginxArgs], { env: nginxEnv });
  } catch (err) {
    log({ msg: 'new config refused by nginx -t; the running one stays', err: String((err as { stderr?: string }).stderr ?? err).trim().split('\n').pop() });
    return;
  }
  running.kill('SIGHUP');
  log({ msg: 'nginx reloaded' });
}

let failing = false;
async function loop(): Promise<void> {
  while (!stopping) {
    try {
      await sync();
      if (failing) log({ msg: 'feed reachable again' });
      failing = false;
    } catch (err) {
      if (!failing) log({ msg: 'feed failed', err: (err as Error).message });
      failing = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** nginx's @silo_wake: forwarded to the control host's waker with the token, its answer back as it is. */
const waker = createServer((req, res) => {
  const c = control();
  const headers = { ...req.headers, authorization: auth, host: c.host };
  delete headers.connection;
  const out = request({ host: c.hostname, port: c.port, method: req.method, path: req.url, headers, agent, timeout: 90_000 }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on('timeout', () => out.destroy(new Error('timeout')));
  out.on('error', (err) => {
    log({ msg: 'wake not forwarded', err: err.message });
    if (res.headersSent) return void res.destroy();
    const text = JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'the tenant could not be started; try again shortly' });
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  req.pipe(out);
});
waker.keepAliveTimeout = 65_000;

mkdirSync(EDGE_PATHS.nginx, { recursive: true });
// nginx's workers (nobody) connect; nothing else runs in this container. Its mode is
// 0666 from the moment its path exists, as every socket of silo's (bindUnixSocket).
bindUnixSocket(EDGE_PATHS.wakerSocket, { mode: 0o666 }, serverListen(waker)).then(
  () => {
    log({ msg: 'edge agent started', controls: controls.map((c) => c.host) });
    void loop();
  },
  (err: Error) => {
    log({ msg: 'cannot listen for nginx', socket: EDGE_PATHS.wakerSocket, err: err.message });
    process.exit(1); // Swarm starts the task again
  },
);

const stop = () => {
  stopping = true;
  waker.close();
  nginx?.kill('SIGQUIT');
  const end = setTimeout(() => process.exit(0), 8000);
  end.unref();
  if (nginx) nginx.on('exit', () => process.exit(0));
  else process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
