/**
 * docker-compose.yml, docker/Dockerfile and docker/entrypoint.sh, checked without a Docker
 * engine (test/compose/compose-up.test.ts runs the file on a real one):
 *
 * 1. statically: the compose file parses; two postgres:15 servers with TCP pg_isready
 *    healthchecks that the app waits on; every SILO_* name is one silo's config schema
 *    knows, and the app's environment passes loadConfig; the published port is
 *    SILO_HTTP_PORT on both sides; servers and tenant placement are consistent with the
 *    postgres services; every file the compose file and the Dockerfile name exists;
 *    `npm run` scripts exist; runtime imports are production dependencies;
 * 2. by rehearsal: the entry script runs on this machine exactly as in the container,
 *    with the app service's environment, two embedded PostgreSQL 15 servers standing in
 *    for postgres-client1/2 (same passwords), and only addresses and folders made
 *    hermetic. Then: tenants on their own servers, through the proxy, hot create via
 *    `silo` as `docker compose exec` would run it, orderly stop on SIGTERM, idempotent
 *    restart.
 * 3. `docker compose config` / `docker-compose config` (Debian's 1.29, which npm test
 *    installs) when a compose client is installed (skipped otherwise).
 */
import t from 'tap';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { parse } from 'yaml';
import postgres from 'postgres';
import { loadConfig } from '../src/common/config.js';
import { validateServerName, validateTenantName } from '../src/common/names.js';
import { freePort } from '../src/common/ports.js';
import { startEmbeddedWithPassword } from './helpers/postgres.js';
import { forgetHome } from '../src/isolation/cleanup.js';
import { httpRequest, processesOf } from './helpers/stack.js';
import { root, runCli } from './helpers/silo-home.js';

type Env = Record<string, string>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const dockerfileText = readFileSync(join(root, 'docker', 'Dockerfile'), 'utf8');
const entryText = readFileSync(join(root, 'docker', 'entrypoint.sh'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The SILO_* names silo's config schema declares (src/common/config.ts). */
function knownSiloNames(): Set<string> {
  const src = readFileSync(join(root, 'src', 'common', 'config.ts'), 'utf8');
  const schema = /const schema = \{[\s\S]*?\n\} as const;/.exec(src);
  if (!schema) throw new Error('cannot find the config schema in src/common/config.ts');
  return new Set([...schema[0].matchAll(/^\s+(SILO_[A-Z0-9_]+):/gm)].map((m) => m[1]!));
}

/** Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR, $$. */
function interpolate(value: string, env: Env): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, name, op, arg, bare) => {
    if (m === '$$') return '$';
    if (bare) return env[bare] ?? '';
    const v = env[name];
    if (op === ':-') return v ? v : arg;
    if (op === '-') return v ?? arg;
    if (op === ':?' || op === '?') {
      if (op === ':?' ? !v : v === undefined) throw new Error(`required variable ${name}: ${arg}`);
      return v!;
    }
    return v ?? '';
  });
}

function interpolateAll(node: unknown, env: Env): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((n) => interpolateAll(n, env));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, env)]));
  return node;
}

function loadCompose(env: Env = {}): Any {
  return interpolateAll(parse(composeText, { merge: true }), env);
}

/** A service's environment as a string map (compose accepts a map or a KEY=VALUE list). */
function envOf(service: Any): Env {
  const e = service.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(e) ? e.map((s: string) => [s.split('=')[0]!, s.slice(s.indexOf('=') + 1)]) : Object.entries(e);
  return Object.fromEntries(entries.map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

const pairs = (list: string) => list.split(/\s+/).filter(Boolean).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] as [string, string]);

/** Dockerfile instructions with line continuations joined and comments dropped. */
function dockerInstructions(text: string): { op: string; args: string }[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => ({ op: l.split(/\s+/)[0]!.toUpperCase(), args: l.slice(l.split(/\s+/)[0]!.length).trim() }));
}

const instructions = dockerInstructions(dockerfileText);

t.test('the compose file parses and has the services the issue asks for', async (t) => {
  const c = loadCompose();
  t.same(Object.keys(c.services).sort(), ['app', 'postgres-client1', 'postgres-client2'], 'one app, one PostgreSQL server per client');
  for (const name of ['postgres-client1', 'postgres-client2']) {
    const s = c.services[name];
    const m = /^postgres:(\d+)(?:[.-].*)?$/.exec(s.image);
    t.ok(m, `${name}: official postgres image (${s.image})`);
    t.equal(m?.[1], '15', `${name}: major 15, like the embedded server and Debian's pg_dump 15`);
    const test = [s.healthcheck?.test].flat().join(' ');
    t.match(test, /pg_isready/, `${name}: healthcheck uses pg_isready`);
    t.match(test, /-h\s+127\.0\.0\.1/, `${name}: over TCP, not the init-time unix socket`);
    t.ok(envOf(s).POSTGRES_PASSWORD, `${name}: a password is set`);
    t.match(envOf(s).POSTGRES_PASSWORD, /dev-only/, `${name}: the default password says it is for development only`);
    const volume = (s.volumes ?? []).map(String).find((v: string) => v.endsWith(':/var/lib/postgresql/data'));
    t.ok(volume, `${name}: data on a volume`);
    t.ok(c.volumes && volume!.split(':')[0]! in c.volumes, `${name}: its volume is declared`);
  }
  t.not(envOf(c.services['postgres-client1']).POSTGRES_PASSWORD, envOf(c.services['postgres-client2']).POSTGRES_PASSWORD, 'each server has its own password');
  t.match(composeText, /DEVELOPMENT ONLY/, 'the file says the default passwords are for development only');
  // A password set by the operator replaces the default everywhere it is used.
  const custom = loadCompose({ POSTGRES_CLIENT1_PASSWORD: 'p1', POSTGRES_CLIENT2_PASSWORD: 'p2' });
  t.equal(envOf(custom.services['postgres-client1']).POSTGRES_PASSWORD, 'p1');
  t.match(envOf(custom.services.app).SILO_DATABASE_URL, /^postgres:\/\/postgres:p1@postgres-client1:/);
  t.match(envOf(custom.services.app).DATABASE_SERVERS, /^postgres-client2=postgres:\/\/postgres:p2@postgres-client2:/);
  t.notMatch(JSON.stringify(envOf(custom.services.app)), /dev-only/, 'no default password is left in the app once both are set');

  const app = c.services.app;
  for (const dep of ['postgres-client1', 'postgres-client2']) {
    t.equal(app.depends_on?.[dep]?.condition, 'service_healthy', `app waits for ${dep} to be healthy`);
  }
  t.equal(app.build?.dockerfile, 'docker/Dockerfile', 'app is built from docker/Dockerfile');
  t.ok(app.healthcheck?.test, 'app has a healthcheck');
  t.ok(app.init, 'an init process forwards signals and reaps orphans');
  t.notOk('name' in c, "no top-level name: (Debian's docker-compose 1.29 refuses it)");
  t.notMatch(dockerfileText, /^# syntax=/m, 'no syntax directive: BuildKit would pull its frontend image from a registry');
});

t.test('every SILO_* variable is one silo knows, and the app environment passes its config validation', async (t) => {
  const known = knownSiloNames();
  t.ok(known.has('SILO_HOME') && known.has('SILO_HTTP_PORT') && known.size >= 10, `schema names found: ${[...known].join(', ')}`);
  const sources: [string, string][] = [
    ['docker-compose.yml', composeText],
    ['docker/Dockerfile', dockerfileText],
    ['docker/entrypoint.sh', entryText],
    ['docker/healthcheck.sh', readFileSync(join(root, 'docker', 'healthcheck.sh'), 'utf8')],
    ['docker/seed-demo.mjs', readFileSync(join(root, 'docker', 'seed-demo.mjs'), 'utf8')],
  ];
  for (const [file, text] of sources) {
    const named = new Set([...text.matchAll(/\bSILO_[A-Z0-9_]+\b/g)].map((m) => m[0]));
    t.same([...named].filter((n) => !known.has(n)), [], `${file}: no SILO_* name silo does not know (${[...named].join(', ')})`);
  }

  const app = loadCompose().services.app;
  const env = envOf(app);
  for (const name of ['SILO_HOME', 'SILO_DOMAIN', 'SILO_HTTP_PORT', 'SILO_HTTP_HOST', 'SILO_PROXY', 'SILO_DATABASE_URL']) {
    t.ok(env[name], `app sets ${name}`);
  }
  const cfg = loadConfig(env);
  t.equal(cfg.home, '/var/lib/silo');
  t.equal(cfg.httpHost, '0.0.0.0', 'nginx listens on every interface of the container, so the published port reaches it');
  t.equal(cfg.proxy, 'nginx');
  t.match(cfg.databaseUrl, /^postgres:\/\/postgres:[^@]+@postgres-client1:5432\/postgres$/, 'SILO_DATABASE_URL set: no embedded PostgreSQL runs');
  t.ok(env.PM2_HOME, 'PM2_HOME is set (silo run and `docker compose exec app silo` meet there)');
  t.ok((app.tmpfs ?? []).some((p: string) => env.PM2_HOME!.startsWith(`${p}/`)), 'PM2_HOME is on a tmpfs (no stale pid or socket after a restart)');
  // Docker mounts a tmpfs owned by root and copies only the image folder's mode onto it.
  t.match(dockerfileText, /chmod 1777 \/run\/silo\b/, 'the image makes the tmpfs folder writable for the unprivileged user');
  t.ok((app.volumes ?? []).some((v: string) => v.split(':')[1] === env.SILO_HOME), 'SILO_HOME (registry, secrets) is on a volume');

  // The image's own defaults (docker run without compose) pass too.
  const imageEnv: Env = {};
  for (const { op, args } of instructions.filter((i) => i.op === 'ENV')) {
    t.equal(op, 'ENV');
    for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) imageEnv[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  const imageCfg = loadConfig({ ...imageEnv, SILO_DATABASE_URL: 'postgres://u:p@h:5432/postgres' });
  t.equal(imageCfg.httpPort, 8080, 'the image defaults to port 8080');
  t.ok(dockerfileText.includes(`EXPOSE ${imageCfg.httpPort}`), 'the image exposes its SILO_HTTP_PORT');
});

t.test('the published port is SILO_HTTP_PORT, on both sides', async (t) => {
  for (const env of [{}, { SILO_HTTP_PORT: '9091' }] as Env[]) {
    const app = loadCompose(env).services.app;
    const port = Number(envOf(app).SILO_HTTP_PORT);
    t.equal(port, loadConfig(envOf(app)).httpPort);
    const published = (app.ports ?? []).map(String);
    t.equal(published.length, 1, 'one published port');
    const parts = published[0]!.split(':');
    const [container, host] = [Number(parts.at(-1)), Number(parts.at(-2))];
    t.equal(container, port, `the container port is SILO_HTTP_PORT (${port})`);
    t.equal(host, port, 'the host port is the same, so the URLs silo prints are the ones to open');
    if (parts.length === 3) t.equal(parts[0], '127.0.0.1', 'published on the host loopback only');
  }
});

t.test('database servers and tenant placement match the postgres services', async (t) => {
  const c = loadCompose();
  const env = envOf(c.services.app);
  // silo registers SILO_DATABASE_URL's server itself, as `default`; the entry script adds
  // the others. Each compose service is registered exactly once.
  const servers: [string, string][] = [['default', env.SILO_DATABASE_URL!], ...pairs(env.DATABASE_SERVERS ?? '')];
  t.same(servers.map(([n]) => n), ['default', 'postgres-client2'], 'the entry script adds the second server; the first is SILO_DATABASE_URL');
  const hosts = servers.map(([, url]) => new URL(url).hostname);
  t.same(hosts, ['postgres-client1', 'postgres-client2'], 'one name per PostgreSQL service, none registered twice');
  for (const [name, url] of servers) {
    t.doesNotThrow(() => validateServerName(name), `${name} is a valid silo server name`);
    const u = new URL(url);
    const svc = c.services[u.hostname];
    t.ok(svc, `${name}: its URL points at the compose service ${u.hostname}`);
    t.equal(u.port, '5432');
    t.equal(decodeURIComponent(u.username), envOf(svc).POSTGRES_USER, `${name}: admin user is the server's POSTGRES_USER`);
    t.equal(decodeURIComponent(u.password), envOf(svc).POSTGRES_PASSWORD, `${name}: admin password is the server's POSTGRES_PASSWORD`);
  }
  const tenants = pairs(env.TENANTS ?? '');
  t.same(tenants, [['client1', 'default'], ['client2', 'postgres-client2']], 'client1 on server 1 (default), client2 on server 2');
  for (const [tenant, server] of tenants) {
    t.doesNotThrow(() => validateTenantName(tenant), `${tenant} is a valid tenant name`);
    t.ok(servers.some(([n]) => n === server), `${tenant}'s server is registered`);
  }
});

t.test('every file the compose file and the Dockerfile name exists', async (t) => {
  const app = loadCompose().services.app;
  const context = join(root, app.build.context);
  t.ok(existsSync(join(context, app.build.dockerfile)), 'the Dockerfile');

  // COPY sources (from the build context, not from a build stage) exist.
  const copies = instructions.filter((i) => i.op === 'COPY' && !/--from=/.test(i.args));
  t.ok(copies.length > 0);
  const copied = new Map<string, string>(); // image path -> repo path
  for (const { args } of copies) {
    const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
    const dest = words.pop()!;
    for (const src of words) {
      t.ok(existsSync(join(context, src)), `COPY ${src} exists`);
      const inImage = dest.endsWith('/') ? posix.join(dest, posix.basename(src)) : dest;
      copied.set(posix.resolve('/app', inImage), src);
    }
  }
  // Paths the image runs are ones it copied, and executable in the repository too.
  const entry = /ENTRYPOINT\s+\["([^"]+)"/.exec(dockerfileText)?.[1];
  const health = [app.healthcheck.test].flat()[1] as string;
  for (const path of [entry, health]) {
    t.ok(path && copied.has(path), `${path} is copied into the image`);
    const repo = join(context, copied.get(path!) ?? 'missing');
    t.doesNotThrow(() => accessSync(repo, constants.X_OK), `${copied.get(path!)} is executable`);
  }
  // What the entry script calls inside the app folder.
  for (const rel of ['bin/silo.js', 'docker/seed-demo.mjs', 'docker/healthcheck.sh']) {
    t.ok(existsSync(join(root, rel)), `${rel} exists`);
    t.ok(entryText.includes(rel), `the entry script calls ${rel}`);
  }
  t.match(entryText, /bin\/silo\.js" run &/, 'the stack runs in the foreground with silo run');
  for (const rel of ['bin', 'proxy', 'ecosystem.config.js', 'package.json', 'package-lock.json']) {
    t.ok([...copied.values()].includes(rel), `${rel} is copied into the image`);
  }
  t.match(dockerfileText, /COPY --from=build \/app\/dist \.\/dist/, 'dist/ (compiled in the build stage) reaches the image');
  // The ignore file next to the Dockerfile must not drop what the Dockerfile copies.
  const ignore = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const src of copied.values()) {
    t.notOk(ignore.some((p) => p === src || p === src.split('/')[0]), `${src} is not ignored`);
  }
});

t.test("the Dockerfile's commands use scripts and packages that exist", async (t) => {
  const runs = instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  const npmRuns = runs.flatMap((r) => [...r.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));
  t.ok(npmRuns.length > 0, 'the image is built with an npm script');
  for (const s of npmRuns) t.ok(pkg.scripts?.[s], `npm run ${s} is a package.json script`);
  t.ok(runs.some((r) => /npm ci\b.*--omit=dev/.test(r)), 'the runtime stage installs production dependencies only');
  t.ok(instructions.some((i) => i.op === 'COPY' && /package-lock\.json/.test(i.args)), 'npm ci has the lockfile');

  const from = instructions.filter((i) => i.op === 'FROM').map((i) => i.args);
  const nodeImage = /ARG NODE_IMAGE=node:(\d+)/.exec(dockerfileText);
  t.ok(nodeImage && from.every((f) => f.startsWith('${NODE_IMAGE}')), 'both stages use the NODE_IMAGE argument');
  t.equal(nodeImage?.[1], pkg.engines.node.replace(/^>=\s*/, '').split('.')[0], 'its major is the engines major (20.19+ for require(esm) of ecosystem.config.js)');
  t.match(dockerfileText, /bookworm/, 'Debian bookworm, where nginx 1.22 and postgresql-client-15 come from');

  const apt = runs.find((r) => /apt-get install/.test(r)) ?? '';
  t.match(apt, /\bnginx\b/, 'nginx is installed (SILO_PROXY=nginx)');
  const pgMajor = /postgres:(\d+)/.exec(composeText)?.[1];
  t.match(apt, new RegExp(`postgresql-client-${pgMajor}\\b`), `pg_dump ${pgMajor} for the postgres:${pgMajor} servers`);
  t.match(apt, /\bcurl\b/, 'curl, used by the healthcheck');
  const user = instructions.filter((i) => i.op === 'USER').pop()?.args;
  t.ok(user && user !== 'root', `the app runs unprivileged (USER ${user})`);

  // What dist/ imports at run time must survive `npm ci --omit=dev`.
  const deps = new Set(Object.keys(pkg.dependencies ?? {}));
  const bare = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      // A bundle (scripts/bundle-cli.js) inlines packages' code, whose strings can read like
      // imports; what it imports itself is what tsc's modules beside it import.
      else if (e.name.endsWith('.js') && !e.name.endsWith('.bundle.js')) {
        // Comments may name imports in prose (`import ... from 'silo/testing'`): skip them.
        const code = readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
        for (const m of code.matchAll(/(?:from\s+|import\(\s*)'([^'.][^']*)'/g)) {
          const spec = m[1]!;
          if (spec.startsWith('node:')) continue;
          bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
        }
      }
    }
  };
  walk(join(root, 'dist'));
  walk(join(root, 'docker'));
  t.ok(bare.size > 3, `dist imports: ${[...bare].join(', ')}`);
  t.same([...bare].filter((b) => !deps.has(b)), [], 'every package dist/ imports is a production dependency');
  t.ok(deps.has('pm2'), 'pm2 is a production dependency');
});

t.test('the scripts parse, and the silo commands they call exist', async (t) => {
  for (const f of ['entrypoint.sh', 'healthcheck.sh']) {
    const r = spawnSync('sh', ['-n', join(root, 'docker', f)], { encoding: 'utf8' });
    t.equal(r.status, 0, `sh -n docker/${f} ${r.stderr}`);
  }
  const r = spawnSync(process.execPath, ['--check', join(root, 'docker', 'seed-demo.mjs')], { encoding: 'utf8' });
  t.equal(r.status, 0, `node --check docker/seed-demo.mjs ${r.stderr}`);
  const env = { PATH: process.env.PATH, HOME: tmpdir(), SILO_HOME: join(tmpdir(), 'silo-compose-help-never-written') };
  for (const [args, expect] of [
    [['server', 'add', '--help'], /add \[options\] <name> \[admin-url\]/],
    [['tenant', 'create', '--help'], /--server <name>/],
    [['up', '--help'], /Usage: silo up/],
    [['down', '--help'], /Usage: silo down/],
    [['run', '--help'], /Usage: silo run/],
  ] as [string[], RegExp][]) {
    const res = await runCli(env, args);
    t.equal(res.code, 0, `silo ${args.join(' ')}`);
    t.match(res.stdout, expect);
  }
});

t.test('the entry script starts no PM2 daemon itself: silo run does, with its minimal environment', async (t) => {
  t.notMatch(entryText, /pm2-runtime|node_modules\/\.bin\/pm2\b/, 'no pm2 or pm2-runtime of its own');
  t.match(entryText, /env -u DATABASE_SERVERS node "\$APP_DIR\/bin\/silo\.js" run/, 'silo run gets no extra admin URLs');
});

t.test('docker compose config (when a compose client is installed)', async (t) => {
  const candidates: string[][] = [['docker', 'compose'], ['docker-compose']];
  const found = candidates.find(([cmd, ...sub]) => spawnSync(cmd!, [...sub, 'version'], { encoding: 'utf8' }).status === 0);
  if (!found) {
    t.comment('skipped: neither `docker compose` nor `docker-compose` is installed here; the file was checked by the parser above only');
    return;
  }
  const [cmd, ...sub] = found;
  const r = spawnSync(cmd!, [...sub, '-f', join(root, 'docker-compose.yml'), 'config', '--quiet'], { encoding: 'utf8', cwd: root });
  t.equal(r.status, 0, `${found.join(' ')} config --quiet: ${r.stderr}`);
});

// ---------------------------------------------------------------------------------------
// The rehearsal: docker/entrypoint.sh on this machine, as the app container runs it.

interface Entry {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function runEntry(env: NodeJS.ProcessEnv): Entry {
  const child = spawn('sh', [join(root, 'docker', 'entrypoint.sh')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Poll fn until it returns a value; give up on timeout, or at once if `entry` has exited. */
async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, entry?: Entry): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (entry && entry.child.exitCode !== null) {
      throw new Error(`the entry script exited (${entry.child.exitCode}) while waiting for ${what}:\n${entry.output()}`);
    }
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

t.test('rehearsal: the entry script runs the compose stack, stops it on SIGTERM, and restarts idempotently', async (t) => {
  const compose = loadCompose();
  const appEnv = envOf(compose.services.app);
  // The stack's folders; the stand-in servers live elsewhere, so processesOf(work) is
  // exactly what the entry script started.
  const work = mkdtempSync(join(tmpdir(), 'silo-compose-'));
  // As /var/lib in the image: not private (under root, tenant users must reach SILO_HOME).
  chmodSync(work, 0o755);
  const pgWork = mkdtempSync(join(tmpdir(), 'silo-compose-pg-'));
  const pids = new Set<number>();
  t.teardown(async () => {
    for (const pid of [...pids, ...processesOf(work)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  // Two PostgreSQL 15 servers with the compose file's passwords, on free loopback ports.
  const servers = new Map<string, { port: number; url: string }>();
  const stops: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    rmSync(pgWork, { recursive: true, force: true });
    forgetHome(work); // under root: its tenants' and proxy's users, socket folders, control groups
  });
  for (const name of ['postgres-client1', 'postgres-client2']) {
    const svc = envOf(compose.services[name]);
    const port = await freePort();
    const running = await startEmbeddedWithPassword({ dataDir: join(pgWork, name, 'data'), port, password: svc.POSTGRES_PASSWORD!, maxConnections: 100 });
    stops.push(running.stop);
    servers.set(name, { port, url: '' });
  }
  // The compose environment, with only what must differ on a shared machine replaced:
  // service host names -> 127.0.0.1:<port>, folders -> temp, ports -> free ones, and
  // loopback instead of 0.0.0.0 (never listen beyond this machine in a test).
  const local = (v: string) => v.replace(/@(postgres-client[12]):5432\//g, (_m, host: string) => `@127.0.0.1:${servers.get(host)!.port}/`);
  const httpPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: work,
    LANG: process.env.LANG,
    ...Object.fromEntries(Object.entries(appEnv).map(([k, v]) => [k, local(v)])),
    SILO_HOME: join(work, 'silo'),
    PM2_HOME: join(work, 'run', 'pm2'),
    SILO_HTTP_HOST: '127.0.0.1',
    SILO_HTTP_PORT: String(httpPort),
    SILO_WORKER_PORT_BASE: String(20000 + Math.floor(Math.random() * 20000)),
  };
  t.notMatch(env.DATABASE_SERVERS, /postgres-client\d:5432/, 'every admin URL was pointed at a local stand-in');
  const adminUrl = (name: string) => (name === 'postgres-client1' ? env.SILO_DATABASE_URL! : pairs(env.DATABASE_SERVERS!).find(([n]) => n === name)![1]);
  const hostOf = (tenant: string) => `${tenant}.${appEnv.SILO_DOMAIN}`;
  const get = (tenant: string, path: string) => httpRequest(httpPort, hostOf(tenant), path);
  /** The entry script got as far as silo run, and every tenant answers through nginx. */
  const running = async (entry: Entry, tenants: string[]) => {
    await until('silo run to run the stack', 90_000, async () => (/silo is running/.test(entry.output()) ? true : undefined), entry);
    await until(`${tenants.join(', ')} through the proxy`, 30_000, async () => {
      for (const tenant of tenants) {
        const r = await get(tenant, '/api/tenant');
        if (r.status !== 200 || r.json().tenant !== tenant) return undefined;
      }
      return true;
    }, entry);
  };
  const stop = async (entry: Entry, label: string) => {
    const t0 = Date.now();
    entry.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([entry.exited, new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    t.equal(code, 0, `${label}: SIGTERM stops it within compose's 30 s stop_grace_period (took ${Date.now() - t0} ms)`);
    await until('every process of the stack to exit', 10_000, async () => (processesOf(work).length === 0 ? true : undefined)).catch(() => undefined);
    t.same(processesOf(work), [], `${label}: no worker, nginx or PM2 process is left`);
  };

  // First start: servers registered, tenants created on their servers, demo polls.
  const first = runEntry(env);
  pids.add(first.child.pid!);
  await running(first, ['client1', 'client2']);
  t.pass('client1 and client2 answer through nginx under silo run');
  t.match(first.output(), /added server postgres-client2/, 'silo server add ran');
  t.notMatch(first.output(), /added server postgres-client1/, 'the first server is not added a second time');
  t.match(first.output(), /created tenant client1 on server default/, 'client1 created on server 1 (default)');
  t.match(first.output(), /created tenant client2 on server postgres-client2/, 'client2 created on server 2');

  const registry = JSON.parse(readFileSync(join(env.SILO_HOME!, 'registry.json'), 'utf8'));
  t.equal(registry.servers.default.port, servers.get('postgres-client1')!.port, 'registry: default is postgres-client1');
  t.same(Object.keys(registry.servers).sort(), ['default', 'postgres-client2'], 'registry: each server once');
  t.equal(registry.servers['postgres-client2'].port, servers.get('postgres-client2')!.port, 'registry: postgres-client2 at its address');
  t.equal(registry.tenants.client1.server, 'default', 'registry: client1 on default (postgres-client1)');
  t.equal(registry.tenants.client2.server, 'postgres-client2', 'registry: client2 on postgres-client2');
  t.notOk(registry.servers.local, 'no embedded server was registered');
  for (const [name, holds, lacks] of [['postgres-client1', 'client1', 'client2'], ['postgres-client2', 'client2', 'client1']] as const) {
    const sql = postgres(adminUrl(name), { max: 1, onnotice: () => undefined });
    try {
      const dbs = (await sql<{ datname: string }[]>`select datname from pg_database`).map((r) => r.datname);
      t.ok(dbs.includes(holds), `${name} holds database ${holds}`);
      t.notOk(dbs.includes(lacks), `${name} does not hold ${lacks}`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }

  // The entry script seeds once silo run answers.
  await until('the demo polls', 30_000, async () => (/seeded a demo poll for client1[\s\S]*seeded a demo poll for client2/.test(first.output()) ? true : undefined), first);
  const polls1 = (await get('client1', '/api/polls')).json();
  const polls2 = (await get('client2', '/api/polls')).json();
  t.equal(polls1.length, 1, `client1 got its demo poll${polls1.length === 1 ? '' : `: ${first.output()}`}`);
  t.match(polls1[0].question, /client1.*default/, "client1's poll names its server");
  t.match(polls2[0].question, /client2.*postgres-client2/, "client2's poll names its server");

  const health = spawnSync('sh', [join(root, 'docker', 'healthcheck.sh')], { env, encoding: 'utf8' });
  t.equal(health.status, 0, `the container healthcheck passes ${health.stderr}`);

  // No process of the running stack holds an admin URL or password in its environment.
  // (The entry shell itself has the container's environment, as `docker compose exec` does.)
  const secrets = [...servers.keys()].map((n) => envOf(compose.services[n]).POSTGRES_PASSWORD!);
  const kinds = new Map<string, number>();
  for (const pid of processesOf(work)) {
    let cmd = '';
    let environ = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    const kind = /^PM2 v/.test(cmd) ? 'pm2-daemon' : /dist\/worker(-bundle\/worker)?\/server\.js/.test(cmd) ? 'worker' : cmd.includes('nginx') ? 'nginx' : undefined;
    if (!kind) continue;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    t.notOk(environ.includes('postgres://') || secrets.some((s) => environ.includes(s)), `${kind} (pid ${pid}) has no admin URL or password in its environment`);
  }
  t.equal(kinds.get('pm2-daemon'), 1, 'one PM2 daemon runs the stack');
  t.equal(kinds.get('worker'), 2, 'one worker per tenant');

  // Registering postgres-client1 under its own name as well is refused in one line.
  const twice = await runCli(env, ['server', 'add', 'postgres-client1', env.SILO_DATABASE_URL!]);
  t.equal(twice.code, 1);
  t.match(twice.stderr, /^silo: 127\.0\.0\.1:\d+ is already registered as server "default": place tenants on it with --server default\n$/);

  // `docker compose exec app silo tenant create ...`: the container's env, same PM2_HOME.
  const created = await runCli(env, ['tenant', 'create', 'third', '--server', 'postgres-client2']);
  t.equal(created.code, 0, `silo tenant create third --server postgres-client2 ${created.stderr}`);
  t.match(created.stdout, /created tenant third on server postgres-client2: live at/, 'started live under silo run');
  t.same((await get('third', '/api/tenant')).json(), { tenant: 'third' }, 'a tenant created with exec is live at once');
  const status = await runCli(env, ['status', '--json']);
  t.equal(JSON.parse(status.stdout).up, true, 'silo status sees the silo run stack');

  await stop(first, 'first run');

  // A restart re-runs the same steps as no-ops; data and the exec-created tenant stay.
  const second = runEntry(env);
  pids.add(second.child.pid!);
  await running(second, ['client1', 'client2', 'third']);
  t.match(second.output(), /tenant client1 already exists/, 'restart: client1 left as it is');
  t.match(second.output(), /tenant client2 already exists/, 'restart: client2 left as it is');
  t.notMatch(second.output(), /seeded a demo poll/, 'demo polls are seeded once');
  t.same((await get('client1', '/api/polls')).json(), polls1, "client1's data survived the restart unchanged");
  t.same((await get('client2', '/api/polls')).json(), polls2, "client2's data survived the restart unchanged");
  await stop(second, 'second run');
});
