/**
 * docker-compose.yml for real, as a user runs it: Debian's docker-compose (1.29) against
 * Debian's Docker engine (20.10), with the repository's files unchanged.
 *
 * The engine is the test's own (test/helpers/docker.ts: own containerd and dockerd, own
 * folders and sockets, in a network namespace with loopback only). No registry is reachable,
 * so scripts/offline-images makes node:...-bookworm-slim and postgres:15 from Debian's
 * archive first. The app image is built from docker/Dockerfile with docker-compose build
 * once per content: the result is kept in the machine cache under a hash of every file the
 * Dockerfile copies and of the base image, and loaded on later runs; other sources build
 * with the newest cached version as --cache-from (an override file adds only that), so
 * only changed steps run. The build's apt and npm go through a proxy into the namespace.
 * Then: up -d (the image is there), both tenants through the published port (remapped with
 * SILO_HTTP_PORT, as the file allows), a third tenant created on the second server with
 * `docker-compose exec app silo tenant create`, stop, start, everything again, down -v.
 *
 * # figures: images_s (offline-images), build_s (or build=cached and load_s), up_to_first_200_s
 * (up -> both tenants answer through the published port), restart_to_200_s (start -> all three).
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { buildProxy, dockerAvailable, startEngine, type Engine } from '../helpers/docker.js';
import { root } from '../helpers/silo-home.js';

t.setTimeout(900_000);

const skip = dockerAvailable();
const PORT = 18080; // inside the engine's own namespace: nothing else listens there
const PROJECT = 'silo';
const cacheRoot = process.env.SILO_CACHE_DIR ?? '/var/cache/silo';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runIn(env: NodeJS.ProcessEnv, cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    // No input: no pipe (a command that exits without reading one made writing to it fail
    // with EPIPE, a crash of the test file). With input, a command that exits before
    // reading it says why in its exit code and output: the pipe's error adds nothing.
    const child = spawn(cmd, args, { cwd: root, env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Every file docker/Dockerfile copies from the context, with its mode, and the Dockerfile itself. */
function contextHash(baseIdentity: string): string {
  const dockerfile = readFileSync(join(root, 'docker', 'Dockerfile'), 'utf8');
  const h = createHash('sha256');
  h.update(`base ${baseIdentity}\n`);
  h.update(dockerfile);
  h.update(readFileSync(join(root, '.dockerignore')));
  const sources = new Set<string>();
  for (const line of dockerfile.replace(/\\\n/g, ' ').split('\n')) {
    const m = /^\s*COPY\s+(.*)$/i.exec(line);
    if (!m || /--from=/.test(m[1]!)) continue;
    const words = m[1]!.split(/\s+/).filter((w) => w && !w.startsWith('--'));
    words.pop();
    for (const w of words) sources.add(w);
  }
  const skipNames = new Set(['node_modules', '.tap', '.silo', '.git']);
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) if (!skipNames.has(e)) walk(join(p, e));
    } else if (st.isFile()) {
      h.update(`${relative(root, p)} ${st.mode & 0o111 ? 'x' : '-'}\n`);
      h.update(readFileSync(p));
    }
  };
  for (const s of [...sources].sort()) walk(join(root, s));
  return h.digest('hex').slice(0, 16);
}

/** GET through the published port, from inside the engine's namespace (where it listens). */
function get(engine: Engine, host: string, path: string): { status: number; body: string } {
  const r = engine.inNetns(['curl', '-s', '--max-time', '10', '-H', `Host: ${host}`, '-w', '\n%{http_code}', `http://127.0.0.1:${PORT}${path}`]);
  const out = String(r.stdout ?? '');
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)) || 0, body: out.slice(0, Math.max(cut, 0)) };
}

function post(engine: Engine, host: string, path: string, body: unknown): { status: number; body: string } {
  const r = engine.inNetns([
    'curl', '-s', '--max-time', '10', '-H', `Host: ${host}`, '-H', 'content-type: application/json', '--data-binary', JSON.stringify(body),
    '-w', '\n%{http_code}', `http://127.0.0.1:${PORT}${path}`,
  ]);
  const out = String(r.stdout ?? '');
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)) || 0, body: out.slice(0, Math.max(cut, 0)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until every tenant answers /api/tenant with its own name; seconds taken. */
async function answering(engine: Engine, tenants: string[], timeoutMs: number, logs: () => Promise<string>): Promise<number> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    const answers = tenants.map((x) => ({ x, r: get(engine, `${x}.localhost`, '/api/tenant') }));
    const mine = (x: string, body: string) => {
      try {
        return JSON.parse(body).tenant === x;
      } catch {
        return false;
      }
    };
    if (answers.every(({ x, r }) => r.status === 200 && mine(x, r.body))) return (Date.now() - t0) / 1000;
    last = answers.map(({ x, r }) => `${x}: ${r.status} ${r.body.slice(0, 120)}`).join('; ');
    await sleep(500);
  }
  throw new Error(`${tenants.join(', ')} did not answer through port ${PORT} in ${timeoutMs / 1000} s (${last}):\n${await logs()}`);
}

t.test('docker-compose up --build, browse, exec tenant create, stop, start, down -v', { skip: skip ?? false }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'silo-compose-up-'));
  const engine = await startEngine(join(work, 'engine'));
  t.teardown(async () => {
    await engine.stop();
    rmSync(work, { recursive: true, force: true });
  });
  const env: NodeJS.ProcessEnv = { ...engine.env, COMPOSE_PROJECT_NAME: PROJECT, SILO_HTTP_PORT: String(PORT) };
  const compose = (args: string[], opts?: { timeoutMs?: number }) => runIn(env, 'docker-compose', args, opts);
  const docker = (args: string[], opts?: { timeoutMs?: number }) => runIn(env, 'docker', args, opts);
  const logs = async () => (await compose(['logs', '--no-color', '--tail', '60'])).stdout;

  // 1. The base images, from Debian's archive (cached root file systems after the first run).
  let t0 = Date.now();
  const images = await runIn({ ...engine.env, SILO_CACHE_DIR: cacheRoot }, join(root, 'scripts', 'offline-images'), ['-H', engine.host, '--no-pull']);
  const imagesS = (Date.now() - t0) / 1000;
  if (images.code !== 0) throw new Error(`scripts/offline-images failed: ${images.stderr}`);
  t.pass(`scripts/offline-images: ${images.stderr.trim().split('\n').join('; ')}`);
  const tags = (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n');
  const nodeImage = /^ARG NODE_IMAGE=(.*)$/m.exec(readFileSync(join(root, 'docker', 'Dockerfile'), 'utf8'))![1]!;
  t.ok(tags.includes(nodeImage), `${nodeImage} is in the engine`);
  t.ok(tags.includes('postgres:15'), 'postgres:15 is in the engine');

  // 2. The app image: built once per content, kept in the machine cache.
  const base = (await docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}} {{json .Config.Env}}', nodeImage])).stdout.trim();
  const key = contextHash(base);
  const cacheDir = join(cacheRoot, 'compose');
  mkdirSync(cacheDir, { recursive: true });
  const cached = join(cacheDir, `silo-dev-${key}.tar`);
  let build: string;
  const newest = () =>
    readdirSync(cacheDir)
      .filter((f) => /^silo-dev-[0-9a-f]+\.tar$/.test(f))
      .map((f) => join(cacheDir, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const load = async (file: string) => {
    const loaded = await docker(['load', '-q', '-i', file]);
    if (loaded.code !== 0) throw new Error(`docker load -i ${file}: ${loaded.stderr}`);
  };
  t0 = Date.now();
  if (existsSync(cached)) {
    // Exactly these sources were built before: the image is that build's.
    await load(cached);
    const tagged = await docker(['tag', 'silo-cache:dev', 'silo:dev']);
    t.equal(tagged.code, 0, `the cached build of these sources is silo:dev${tagged.code === 0 ? '' : `: ${tagged.stderr}`}`);
    build = `build=cached load_s=${((Date.now() - t0) / 1000).toFixed(1)}`;
  } else {
    // Another version's images, if any, as the build cache (--cache-from): unchanged steps
    // (apt-get, npm ci when the lockfile is the same) are not run again.
    const previous = newest()[0];
    if (previous) await load(previous);
    const cacheFrom = previous ? ['silo-cache:dev', 'silo-cache:build'] : [];
    const override = join(work, 'cache-from.yml');
    writeFileSync(override, `services:\n  app:\n    build:\n      cache_from: ${JSON.stringify(cacheFrom)}\n`);
    const proxy = await buildProxy(engine);
    const args = ['--build-arg', `http_proxy=${proxy.url}`, '--build-arg', `https_proxy=${proxy.url}`];
    try {
      const files = previous ? ['-f', join(root, 'docker-compose.yml'), '-f', override] : [];
      const built = await compose([...files, 'build', ...args], { timeoutMs: 780_000 });
      if (built.code !== 0) throw new Error(`docker-compose build failed:\n${built.stdout.slice(-3000)}\n${built.stderr.slice(-3000)}`);
      build = `build_s=${((Date.now() - t0) / 1000).toFixed(1)} cache_from=${previous ? 'previous' : 'none'}`;
      // The build stage too, for the next version's cache (every step is cached here now).
      const stage = await docker(['build', '-q', '--target', 'build', '-t', 'silo-cache:build', '-f', 'docker/Dockerfile', ...args, '.']);
      if (stage.code !== 0) throw new Error(`docker build --target build: ${stage.stderr}`);
    } finally {
      await proxy.stop();
    }
    t.pass(`docker-compose build (${build})`);
    await docker(['tag', 'silo:dev', 'silo-cache:dev']);
    const part = `${cached}.part.${process.pid}`;
    const saved = await docker(['save', '-o', part, 'silo-cache:dev', 'silo-cache:build']);
    t.equal(saved.code, 0, `docker save${saved.code === 0 ? '' : `: ${saved.stderr}`}`);
    if (saved.code === 0) renameSync(part, cached);
    rmSync(part, { force: true });
    // Older versions' images: keep the newest two.
    for (const f of newest().slice(2)) unlinkSync(f);
  }
  if ((await docker(['image', 'inspect', 'silo:dev'])).code !== 0) throw new Error("silo:dev (the compose file's app image) is not in the engine");

  // 3. Up, as the README says; the image is there, so compose builds nothing.
  t0 = Date.now();
  const up = await compose(['up', '-d']);
  if (up.code !== 0) throw new Error(`docker-compose up -d failed: ${up.stderr}\n${await logs()}`);
  await answering(engine, ['client1', 'client2'], 300_000, logs);
  const upTo200 = (Date.now() - t0) / 1000;
  t.pass(`client1 and client2 answer through the published port ${PORT} (SILO_HTTP_PORT)`);

  // Each demo tenant's poll lives on its own server.
  let polls: { client1?: string; client2?: string } = {};
  const seeded = Date.now();
  while (Date.now() - seeded < 120_000) {
    const p1 = get(engine, 'client1.localhost', '/api/polls');
    const p2 = get(engine, 'client2.localhost', '/api/polls');
    if (p1.status === 200 && p2.status === 200 && JSON.parse(p1.body).length && JSON.parse(p2.body).length) {
      polls = { client1: p1.body, client2: p2.body };
      break;
    }
    await sleep(500);
  }
  t.match(JSON.parse(polls.client1 ?? '[{}]')[0].question, /client1.*default/, "client1's demo poll, on the first server");
  t.match(JSON.parse(polls.client2 ?? '[{}]')[0].question, /client2.*postgres-client2/, "client2's demo poll, on the second server");
  t.equal(get(engine, 'nobody.localhost', '/api/tenant').status, 404, 'an unknown host gets 404 from the proxy');

  // The tmpfs defect: the app container never restarted (PM2_HOME could be created).
  const appId = (await compose(['ps', '-q', 'app'])).stdout.trim();
  t.ok(appId, 'the app container exists');
  const restarts = (await docker(['inspect', '--format', '{{.RestartCount}}', appId])).stdout.trim();
  t.equal(restarts, '0', 'the app container did not restart (PM2_HOME on the /run/silo tmpfs is writable)');
  let health = '';
  const h0 = Date.now();
  while (Date.now() - h0 < 120_000) {
    health = (await docker(['inspect', '--format', '{{.State.Health.Status}}', appId])).stdout.trim();
    if (health === 'healthy') break;
    await sleep(1000);
  }
  t.equal(health, 'healthy', "the app container's healthcheck (docker/healthcheck.sh) passes");

  // 4. A third tenant on the second server, with exec, live at once.
  const created = await compose(['exec', '-T', 'app', 'silo', 'tenant', 'create', 'third', '--server', 'postgres-client2']);
  t.equal(created.code, 0, `docker-compose exec app silo tenant create third --server postgres-client2${created.code === 0 ? '' : `: ${created.stderr}`}`);
  t.match(created.stdout, /created tenant third on server postgres-client2/, 'silo says where it created third');
  await answering(engine, ['third'], 60_000, logs);
  t.pass('third answers through the published port');
  const dbs = await compose(['exec', '-T', 'postgres-client2', 'psql', '-U', 'postgres', '-Atc', 'select datname from pg_database order by 1']);
  t.equal(dbs.code, 0, `psql on postgres-client2${dbs.code === 0 ? '' : `: ${dbs.stderr}`}`);
  t.ok(dbs.stdout.split('\n').includes('third'), "third's database is on postgres-client2");
  const poll = post(engine, 'third.localhost', '/api/polls', { question: 'Still here after a restart?', choices: ['yes', 'no'] });
  t.equal(poll.status, 201, `a poll created on third${poll.status === 201 ? '' : `: ${poll.body}`}`);
  const status = await compose(['exec', '-T', 'app', 'silo', 'status']);
  t.equal(status.code, 0, 'silo status in the container');
  t.match(status.stdout, /third/, 'silo status lists third');

  // 5. Stop and start: the stack comes back from the volumes, the exec-created tenant too.
  const stopped = await compose(['stop'], { timeoutMs: 180_000 });
  t.equal(stopped.code, 0, `docker-compose stop${stopped.code === 0 ? '' : `: ${stopped.stderr}`}`);
  const running = (await docker(['ps', '-q'])).stdout.trim();
  t.equal(running, '', 'nothing runs after stop');
  t.equal(get(engine, 'client1.localhost', '/api/tenant').status, 0, 'nothing answers on the port after stop');
  t0 = Date.now();
  const started = await compose(['start'], { timeoutMs: 300_000 });
  t.equal(started.code, 0, `docker-compose start${started.code === 0 ? '' : `: ${started.stderr}`}`);
  await answering(engine, ['client1', 'client2', 'third'], 300_000, logs);
  const restart200 = (Date.now() - t0) / 1000;
  t.pass('client1, client2 and third answer again after stop and start');
  t.equal(get(engine, 'client1.localhost', '/api/polls').body, polls.client1, "client1's data survived");
  t.equal(get(engine, 'client2.localhost', '/api/polls').body, polls.client2, "client2's data survived");
  t.match(get(engine, 'third.localhost', '/api/polls').body, /Still here after a restart/, "third's data survived");
  t.equal((await docker(['inspect', '--format', '{{.RestartCount}}', appId])).stdout.trim(), '0', 'no restart loop after start either');

  // 6. down -v: nothing of the project is left in the engine.
  const down = await compose(['down', '-v'], { timeoutMs: 180_000 });
  t.equal(down.code, 0, `docker-compose down -v${down.code === 0 ? '' : `: ${down.stderr}`}`);
  t.equal((await docker(['ps', '-aq'])).stdout.trim(), '', 'no container left');
  t.equal((await docker(['volume', 'ls', '-q'])).stdout.trim(), '', 'no volume left');

  t.comment(`# figures: scenario=compose-up images_s=${imagesS.toFixed(1)} ${build} up_to_first_200_s=${upTo200.toFixed(1)} restart_to_200_s=${restart200.toFixed(1)}`);
});
