/**
 * The worker image a tenant's service runs: silo's worker (dist/ and the few packages it
 * loads from node_modules) on a base image with Node (SILO_SWARM_BASE_IMAGE), plus the
 * tenant's release when it has one, at the path the PM2 runtime would run it from. Built
 * on the manager through the Engine API (the legacy builder: a tar context, no BuildKit)
 * and shipped to every other node by `save` on the manager and `load` on the node, so no
 * image registry is needed; services are created with the image already on every node.
 * Tags are content stamps: an image of the same code is built once.
 */
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { projectRoot, type SiloConfig } from '../../common/config.js';
import type { Registry } from '../../registry/registry.js';
import { tenantAppEntry } from '../../apps/app-migrations.js';

/** What the worker bundle and the apps silo ships load at run time (scripts/bundle-worker.js leaves them out). */
const WORKER_PACKAGES = ['postgres', '@fastify/ajv-compiler', 'ajv', 'ajv-formats', 'fastify-plugin', '@fastify/formbody', 'close-with-grace'];
/** Where silo's worker code sits in the image. */
export const IMAGE_ROOT = '/opt/silo';

/** The packages `roots` need, from node_modules' package.json files (npm's flat layout). */
export function packageClosure(modules: string, roots: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !existsSync(join(modules, name, 'package.json'))) return;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep);
  };
  roots.forEach(visit);
  return [...seen].sort();
}

/** Build state beside the code (tsc's incremental record: any type check rewrites it), never in an image. */
const notInImage = (path: string) => !path.endsWith('.tsbuildinfo');

/**
 * A stamp of what `paths` hold: each file's path under its root, size and time, not where
 * the root is, so the same build installed elsewhere (another manager that took the
 * control plane over) stamps its files the same when they are the same.
 */
export function contentStamp(paths: string[]): string {
  const h = createHash('sha256');
  const walk = (root: string, p: string) => {
    const st = statSync(p);
    if (!st.isDirectory()) h.update(`${relative(root, p)}\0${st.size}\0${st.mtimeMs}\0`);
    else for (const e of readdirSync(p).sort()) if (notInImage(e)) walk(root, join(p, e));
  };
  paths.forEach((root, i) => {
    h.update(`${i}\0`);
    walk(root, root);
  });
  return h.digest('hex').slice(0, 12);
}

export interface WorkerImage {
  tag: string;
  /** the APP_MODULE inside the image ('' = the bundled sample) */
  appModule: string;
  /** what goes in the build context: [source, path in the context] */
  files: [string, string][];
  /** its own Dockerfile (the edge's); unset: the worker's */
  dockerfile?: string;
}

/** The image for `name` as the registry has it now (its release, or the stack's app). */
export function workerImage(cfg: SiloConfig, reg: Registry, name: string): WorkerImage {
  const modules = join(projectRoot, 'node_modules');
  const packages = packageClosure(modules, WORKER_PACKAGES);
  const files: [string, string][] = [
    [join(projectRoot, 'dist'), 'silo/dist'],
    [join(projectRoot, 'package.json'), 'silo/package.json'],
    ...packages.map((p): [string, string] => [join(modules, p), `silo/node_modules/${p}`]),
  ];
  const t = reg.tenants[name];
  const entry = t ? (tenantAppEntry(cfg, t) ?? '') : '';
  let appModule = '';
  if (entry) {
    // A release (or SILO_APP): its folder, as it is under $SILO_HOME, goes in whole.
    const folder = t?.release ? join(cfg.home, 'releases', t.release.id) : dirname(entry);
    files.push([folder, 'app']);
    appModule = join('/srv/app', entry.slice(folder.length));
  }
  const base = cfg.swarmBaseImage;
  // A release is named by a hash of its files already (apps/releases.ts): its id stamps it,
  // wherever its folder is (a home taken over on another manager copies it out of this image).
  const stamped = t?.release ? files.slice(0, -1) : files;
  const tag = `silo/worker:${createHash('sha256').update(base).update(contentStamp(stamped.map((f) => f[0]))).update(t?.release ? `release ${t.release.id}` : '').digest('hex').slice(0, 12)}`;
  return { tag, appModule, files };
}

const dockerfile = (base: string, app: boolean) => `FROM ${base}
COPY silo ${IMAGE_ROOT}
${app ? 'COPY app /srv/app\n' : ''}WORKDIR ${IMAGE_ROOT}
ENV NODE_ENV=production
CMD ["node", "${IMAGE_ROOT}/dist/worker-bundle/worker/server.js"]
`;

async function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = err ?? out.find((o) => o.error);
      if (failed) reject(new Error(err ? err.message : String((failed as { error: string }).error)));
      else resolve();
    }),
  );
}

/** Builds under way in this process, by tag: tenants started at once share one. */
const building = new Map<string, Promise<void>>();

/** Build `img` on the manager unless it has it, then load it on each node that lacks it. */
export function ensureWorkerImage(manager: Docker, nodes: Docker[], base: string, img: WorkerImage): Promise<void> {
  let done = building.get(img.tag);
  if (!done) {
    done = buildAndShip(manager, nodes, base, img).finally(() => building.delete(img.tag));
    building.set(img.tag, done);
  }
  return done;
}

async function buildAndShip(manager: Docker, nodes: Docker[], base: string, img: WorkerImage): Promise<void> {
  const has = (d: Docker) => d.getImage(img.tag).inspect().then(() => true, () => false);
  if (!(await has(manager))) {
    const ctx = mkdtempSync(join(tmpdir(), 'silo-image-'));
    try {
      for (const [from, to] of img.files) cpSync(from, join(ctx, to), { recursive: true, dereference: true, filter: notInImage });
      writeFileSync(join(ctx, 'Dockerfile'), img.dockerfile ?? dockerfile(base, img.appModule !== ''));
      const src = ['Dockerfile', ...new Set(img.files.map(([, to]) => to.split('/')[0]!))];
      await follow(manager, await manager.buildImage({ context: ctx, src }, { t: img.tag, rm: true, forcerm: true }));
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  }
  for (const node of nodes) {
    // A node whose engine does not answer (down) is skipped: Swarm places no task there
    // meanwhile, and the next start or update ships the image once it is back.
    if (!(await node.ping().then(() => true, () => false)) || (await has(node))) continue;
    const saved = await manager.getImage(img.tag).get();
    await follow(node, await node.loadImage(saved));
  }
}

/**
 * A folder of an image copied out into `to` (made; left as it is when it exists): from a
 * container created, never started, then removed. For a release a tenant runs, when the
 * control plane is taken over on another host (control-state.ts).
 */
export async function copyOutOfImage(docker: Docker, image: string, folder: string, to: string): Promise<void> {
  if (existsSync(to)) return;
  const container = await docker.createContainer({ Image: image, Cmd: ['true'], Labels: { 'silo.copy': '1' } });
  const part = `${to}.${process.pid}.part`;
  try {
    const archive = await container.getArchive({ path: folder });
    rmSync(part, { recursive: true, force: true });
    mkdirSync(part, { recursive: true, mode: 0o755 });
    await new Promise<void>((resolve, reject) => {
      const tar = spawn('tar', ['-x', '-C', part, '--strip-components=1', '--no-same-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      tar.stderr.on('data', (d) => (err += d));
      tar.on('error', reject);
      tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar: ${err.trim().split('\n')[0]}`))));
      archive.on('error', reject);
      archive.pipe(tar.stdin);
    });
    renameSync(part, to);
  } finally {
    rmSync(part, { recursive: true, force: true });
    await container.remove({ force: true }).catch(() => undefined);
  }
}
