/**
 * The control plane's state, kept in the swarm itself (SILO_RUNTIME=swarm), so that any
 * manager can take the control plane over when the control host is lost.
 *
 * What: the registry, the secrets folder (servers' admin URLs, tenants' passwords, the
 * edge token, the control API's hashed tokens, ACME keys) and the webhooks' list: what
 * exists nowhere else. Workers' images are on every node already; everything else under
 * $SILO_HOME (rendered proxy config, PM2's state, logs) is made again by `silo up`.
 *
 * Where: a Swarm config object per version, `silo-control-<seq>`, in the managers' Raft
 * store: replicated to every manager, and there as long as a majority of managers is.
 * Its data is sealed (gzip, then AES-256-GCM) with the control key, a file of the control
 * home (`secrets/control-key`, 0600) that is never in the copy: `docker config inspect`
 * shows ciphertext. A manager that may take over needs that key, copied once, like the
 * swarm's own unlock key.
 *
 * Who writes: the home that controls the stack, named by a random controller id of that
 * home. Versions are created, never changed, and a config's name is unique in the swarm,
 * so creating `silo-control-<seq+1>` is a compare-and-swap: of two homes, one wins. A home
 * whose newest version was written by another controller has been taken over: it is
 * fenced, writes nothing more, and its `silo up` refuses (ControlTakenOver).
 */
import type Docker from 'dockerode';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, normalize, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { ControlTakenOver, SiloError } from '../../common/errors.js';
import { homePaths } from '../../common/paths.js';

export const CONTROL_LABEL = 'silo.control-state';
const PREFIX = 'silo-control-';
const MAGIC = Buffer.from('silo-control/1\n');
/** Swarm keeps configs up to 1000 KB; the sealed copy must fit with base64 around it. */
const MAX_SEALED = 700 * 1024;
/** Versions kept besides the newest (for a look at what changed; older ones are removed). */
const KEEP = 3;

/** What one copy holds: file paths relative to the home, and their bytes. */
export interface ControlSnapshot {
  files: Record<string, Buffer>;
}

export interface ControlVersion {
  id: string;
  seq: number;
  controller: string;
  node: string;
  at: string;
}

/** The files of `home` that go in the copy (never the control key, never temporary files). */
function copiedFiles(home: string): string[] {
  const p = homePaths(home);
  const out = [p.registry, p.webhooks].filter((f) => existsSync(f));
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const f = join(dir, e.name);
      if (f === p.controlKey || e.name.endsWith('.tmp')) continue;
      if (e.isDirectory()) walk(f);
      else out.push(f);
    }
  };
  walk(p.secrets);
  return out;
}

export function snapshotHome(home: string): ControlSnapshot {
  const files: Record<string, Buffer> = {};
  for (const f of copiedFiles(home)) files[relative(home, f)] = readFileSync(f);
  return { files };
}

/**
 * A stamp of what the copy would hold, from the files' names, sizes and change times
 * (every write silo makes replaces a file, so its times move): the waker asks for it
 * every second, and reading every tenant's secrets each time would cost more.
 */
export function homeStamp(home: string): string {
  const h = createHash('sha256');
  for (const f of copiedFiles(home)) {
    const st = statSync(f, { bigint: true });
    h.update(`${relative(home, f)}\0${st.size}\0${st.ctimeNs}\0${st.mtimeNs}\0`);
  }
  return h.digest('hex');
}

/** Where a copied file may go: the registry, the webhooks' list, or under secrets/ (not the key). */
function allowedPath(home: string, rel: string): boolean {
  const n = normalize(rel);
  if (n !== rel || n.startsWith('..') || n.startsWith('/')) return false;
  const p = homePaths(home);
  const abs = join(home, n);
  return abs === p.registry || abs === p.webhooks || (abs.startsWith(p.secrets + '/') && abs !== p.controlKey);
}

export function seal(s: ControlSnapshot, key: Buffer): Buffer {
  const body = gzipSync(JSON.stringify(Object.fromEntries(Object.entries(s.files).map(([k, v]) => [k, v.toString('base64')]))));
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(MAGIC);
  const data = Buffer.concat([c.update(body), c.final()]);
  return Buffer.concat([MAGIC, iv, c.getAuthTag(), data]);
}

export function unseal(sealed: Buffer, key: Buffer): ControlSnapshot {
  if (!sealed.subarray(0, MAGIC.length).equals(MAGIC)) throw new SiloError('the control state in the swarm is not in a format this silo reads');
  const iv = sealed.subarray(MAGIC.length, MAGIC.length + 12);
  const tag = sealed.subarray(MAGIC.length + 12, MAGIC.length + 28);
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(MAGIC);
  d.setAuthTag(tag);
  let body: Buffer;
  try {
    body = Buffer.concat([d.update(sealed.subarray(MAGIC.length + 28)), d.final()]);
  } catch {
    throw new SiloError('the control key does not open the control state in the swarm: give the key file of the home that wrote it');
  }
  const parsed = JSON.parse(gunzipSync(body).toString('utf8')) as Record<string, string>;
  return { files: Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, Buffer.from(v, 'base64')])) };
}

/** The home's control key, made (32 random bytes, 0600) the first time. */
export function ensureControlKey(home: string): Buffer {
  const file = homePaths(home).controlKey;
  if (!existsSync(file)) {
    mkdirSync(homePaths(home).secrets, { recursive: true, mode: 0o700 });
    writeFileAtomic(file, randomBytes(32).toString('hex') + '\n', 0o600);
  }
  return readControlKey(file);
}

export function readControlKey(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new SiloError(`cannot read the control key ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new SiloError(`${file} is not a control key (64 hex digits)`);
  return Buffer.from(text, 'hex');
}

/** This home's controller id, if it has written a copy or taken one over (reading makes nothing). */
export function readControllerId(home: string): string | undefined {
  try {
    return readFileSync(homePaths(home).controllerId, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** This home's controller id, made the first time (or by `fresh`, when a home takes over). */
export function controllerId(home: string, fresh = false): string {
  const file = homePaths(home).controllerId;
  if (fresh || !existsSync(file)) writeFileAtomic(file, randomBytes(9).toString('base64url') + '\n', 0o600);
  return readFileSync(file, 'utf8').trim();
}

/** Every version in the swarm, newest first. */
export async function controlVersions(manager: Docker): Promise<ControlVersion[]> {
  const all = (await manager.listConfigs({ filters: JSON.stringify({ label: [CONTROL_LABEL] }) })) as { ID: string; Spec?: { Name?: string; Labels?: Record<string, string> }; CreatedAt?: string }[];
  return all
    .map((c) => ({
      id: c.ID,
      seq: Number(c.Spec?.Labels?.['silo.seq']),
      controller: c.Spec?.Labels?.['silo.controller'] ?? '',
      node: c.Spec?.Labels?.['silo.node'] ?? '',
      at: c.CreatedAt ?? '',
    }))
    .filter((v) => Number.isInteger(v.seq) && v.seq > 0)
    .sort((a, b) => b.seq - a.seq);
}

/** The node name of the engine silo talks to (for the humans reading who wrote a version). */
async function nodeName(manager: Docker): Promise<string> {
  const info = (await manager.info()) as { Name?: string; Swarm?: { NodeID?: string } };
  return info.Swarm?.NodeID ? `${info.Name ?? hostname()}/${info.Swarm.NodeID.slice(0, 12)}` : (info.Name ?? hostname());
}

async function create(manager: Docker, seq: number, controller: string, sealed: Buffer): Promise<ControlVersion> {
  if (sealed.length > MAX_SEALED) throw new SiloError(`the control state is ${Math.round(sealed.length / 1024)} KB sealed, more than the ${MAX_SEALED / 1024} KB a Swarm config holds`);
  const node = await nodeName(manager);
  try {
    const made = (await manager.createConfig({
      Name: `${PREFIX}${String(seq).padStart(10, '0')}`,
      Labels: { [CONTROL_LABEL]: '1', 'silo.seq': String(seq), 'silo.controller': controller, 'silo.node': node },
      Data: sealed.toString('base64'),
    })) as { id?: string; ID?: string };
    return { id: String(made.id ?? made.ID), seq, controller, node, at: new Date().toISOString() };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    // Ours after all: an earlier try that the managers committed late (transient.ts).
    const mine = (await controlVersions(manager)).find((v) => v.seq === seq && v.controller === controller);
    if (mine) return mine;
    throw new ControlTakenOver(`another home wrote version ${seq} of the control state first: this home no longer controls the stack`);
  }
}

async function prune(manager: Docker, versions: ControlVersion[]): Promise<void> {
  for (const v of versions.slice(KEEP + 1)) await manager.getConfig(v.id).remove().catch(() => undefined);
}

/**
 * Refuse when another home controls this swarm's stack: the newest version is another
 * controller's. Nothing in the swarm yet, or ours: fine.
 */
export async function assertControl(manager: Docker, home: string): Promise<ControlVersion[]> {
  const versions = await controlVersions(manager);
  const newest = versions[0];
  if (newest && newest.controller !== readControllerId(home)) {
    const adopted = existsSync(homePaths(home).registry);
    throw new ControlTakenOver(
      adopted
        ? `the control plane was taken over by another home (version ${newest.seq}, written from ${newest.node} at ${newest.at}): this home no longer controls the stack; stop it here (silo down) without --purge`
        : `this swarm already has a silo control plane (version ${newest.seq}, written from ${newest.node} at ${newest.at}): take it over with silo control adopt --key-file <its control key>`,
    );
  }
  return versions;
}

/**
 * Write the home's state as the next version, unless the newest version holds the same
 * (`lastStamp`). Returns the stamp written (or the one it already had).
 */
export async function publishControlState(manager: Docker, home: string, lastStamp?: string): Promise<{ stamp: string; version?: ControlVersion }> {
  // Asked each time, changed or not: a home another took over learns it within a second.
  const versions = await assertControl(manager, home);
  const stamp = homeStamp(home);
  if (stamp === lastStamp) return { stamp };
  const snapshot = snapshotHome(home);
  const key = ensureControlKey(home);
  const version = await create(manager, (versions[0]?.seq ?? 0) + 1, controllerId(home), seal(snapshot, key));
  await prune(manager, [version, ...versions]);
  return { stamp, version };
}

/**
 * Take the control plane over into `home` (a folder without a registry): the newest
 * version, opened with `key`, is written out (0600 files, 0700 folders), the key is kept
 * as this home's, and a version of this home's own is written at once, which fences the
 * home that wrote the last one.
 */
export async function adoptControlState(manager: Docker, home: string, key: Buffer, adjustRegistry: (text: string) => string = (t) => t): Promise<{ from: ControlVersion; files: number; tenants: number }> {
  if (existsSync(homePaths(home).registry)) throw new SiloError(`${home} already holds a stack (registry.json): adopt into an empty SILO_HOME`);
  const [newest] = await controlVersions(manager);
  if (!newest) throw new SiloError('this swarm holds no silo control state: nothing to take over (run silo up on the control host first)');
  const config = (await manager.getConfig(newest.id).inspect()) as { Spec?: { Data?: string } };
  const snapshot = unseal(Buffer.from(config.Spec?.Data ?? '', 'base64'), key);
  for (const rel of Object.keys(snapshot.files)) if (!allowedPath(home, rel)) throw new SiloError(`the control state holds a file silo does not restore: ${rel.slice(0, 80)}`);
  const registry = snapshot.files['registry.json'];
  if (!registry) throw new SiloError('the control state in the swarm holds no registry: nothing to take over');
  snapshot.files['registry.json'] = Buffer.from(adjustRegistry(registry.toString('utf8')));
  // The claim first (a version of this home's own, the same content): of two homes taking
  // over at once, one wins, and the other has written nothing.
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const version = await create(manager, newest.seq + 1, controllerId(home, true), seal(snapshot, key));
  writeFileAtomic(homePaths(home).controlKey, key.toString('hex') + '\n', 0o600);
  // The registry last: a home with a registry counts as adopted (a failure before it: adopt again).
  const names = Object.keys(snapshot.files).sort((a, b) => Number(a === 'registry.json') - Number(b === 'registry.json'));
  for (const rel of names) {
    const abs = join(home, rel);
    mkdirSync(dirname(abs), { recursive: true, mode: 0o700 });
    writeFileAtomic(abs, snapshot.files[rel]!, 0o600);
  }
  await prune(manager, [version, ...(await controlVersions(manager)).filter((v) => v.id !== version.id)]);
  const reg = JSON.parse(snapshot.files['registry.json']!.toString('utf8')) as { tenants?: Record<string, unknown> };
  return { from: newest, files: names.length, tenants: Object.keys(reg.tenants ?? {}).length };
}
