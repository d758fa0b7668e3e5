// What a test run leaves on the host outside its folders (under root): tenant Unix users,
// their groups, control groups. scripts/test.js runs the suite with TMPDIR set to a
// folder of its own, watches which silo homes live in it while the run goes (`homesWatch`),
// and asks this module afterwards. Only what belongs to one of those homes counts, so a
// concurrent run elsewhere on the host (another suite, a bench, a stack) never fails this one:
// - users: tenant and proxy users whose comment ("silo tenant <t> of <home>") names a home in that folder;
// - run folders: /run/silo/<id> whose `_home` is a home in that folder;
// - groups: `silo<hex>-*` groups of one of the run's homes whose user is gone;
// - control groups: `silo-<id>` groups of one of the run's homes that no process is in any more.
// (Names are hashed from the home's path, as src/isolation/tenant-user.ts and cgroups.ts do.)
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const RUN_ROOT = '/run/silo';

const hex = (text, n) => createHash('sha256').update(text).digest('hex').slice(0, n);
/** The `silo<hex4>-` prefix of a home's users and groups, and its control group `silo-<hex8>`. */
const userPrefix = (home) => `silo${hex(resolve(home), 4)}-`;
const cgroupName = (home) => `silo-${hex(resolve(home), 8)}`;

function safeList(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function lines(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function users() {
  return lines('/etc/passwd').map((l) => l.split(':')).map((f) => ({ name: f[0], comment: f[4] ?? '' }));
}

function siloGroups() {
  return lines('/etc/group').map((l) => l.split(':')[0]).filter((g) => /^silo[0-9a-f]{4}-/.test(g));
}

function cgroupDirs() {
  const bases = [CGROUP_ROOT];
  try {
    for (const e of readdirSync(CGROUP_ROOT, { withFileTypes: true })) if (e.isDirectory()) bases.push(join(CGROUP_ROOT, e.name));
  } catch {
    return [];
  }
  const dirs = [];
  for (const base of bases) {
    try {
      for (const e of readdirSync(base, { withFileTypes: true })) if (e.isDirectory() && /^silo-[0-9a-f]{8}$/.test(e.name)) dirs.push(join(base, e.name));
    } catch {
      // not readable
    }
  }
  return dirs;
}

/** Any process in this group or a group inside it? */
function inUse(dir) {
  if (lines(join(dir, 'cgroup.procs')).length) return true;
  try {
    return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && inUse(join(dir, e.name)));
  } catch {
    return false;
  }
}

const inside = (folder) => {
  const base = resolve(folder);
  return (path) => path === base || path.startsWith(`${base}/`);
};

/** Homes in `folder` that the host names now: in users' comments and run folders' `_home`. */
function homesNamed(folder) {
  const mine = inside(folder.replace(/[:,\n]/g, '_'));
  const found = [];
  for (const u of users()) {
    const home = /^silo (?:tenant \S+|proxy) of (.*)$/.exec(u.comment)?.[1];
    if (home !== undefined && mine(home)) found.push(home);
  }
  for (const dir of safeList(RUN_ROOT)) {
    const home = lines(join(RUN_ROOT, dir, '_home'))[0]?.trim();
    if (home && inside(folder)(home)) found.push(home);
  }
  return found;
}

/** Folders down to `depth` below `folder` (homes are made there; a team folder or a compose rehearsal holds them deeper). */
function foldersIn(folder, depth) {
  const found = [];
  const walk = (dir, left) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      found.push(join(dir, e.name));
      if (left > 1) walk(join(dir, e.name), left - 1);
    }
  };
  walk(resolve(folder), depth);
  return found;
}

/**
 * Watch which homes live in `folder` while the run goes (they are deleted by the end):
 * every second, the folders near its top and the homes the host's users and run
 * folders name. A home that made users or groups lives for seconds at least.
 */
export function homesWatch(folder) {
  const homes = new Set();
  const look = () => {
    for (const h of homesNamed(folder)) homes.add(h);
    for (const h of foldersIn(folder, 3)) homes.add(h);
  };
  look();
  const timer = setInterval(look, 1000);
  timer.unref();
  return {
    homes,
    stop() {
      clearInterval(timer);
      look();
      return homes;
    },
  };
}

export function snapshot() {
  return { groups: new Set(siloGroups()), cgroups: new Set(cgroupDirs()) };
}

/**
 * One line per thing the run left behind (empty: the host is as it was). `homes`: every
 * home the run had in `folder` (homesWatch); groups and control groups of other homes
 * are someone else's.
 */
export function leftovers(before, folder, homes = new Set()) {
  const found = [];
  const mine = inside(resolve(folder).replace(/[:,\n]/g, '_'));
  const left = users().filter((u) => {
    const home = /^silo (?:tenant \S+|proxy) of (.*)$/.exec(u.comment)?.[1];
    return home !== undefined && mine(home);
  });
  for (const u of left) found.push(`user ${u.name} (${u.comment})`);
  // Socket folders under /run/silo name their home in `_home`.
  for (const dir of safeList(RUN_ROOT).map((e) => join(RUN_ROOT, e))) {
    const home = lines(join(dir, '_home'))[0]?.trim();
    if (home && inside(folder)(home)) found.push(`run folder ${dir} (of ${home})`);
  }
  for (const h of homesNamed(folder)) homes.add(h);
  const prefixes = new Set([...homes].map(userPrefix));
  const cgroups = new Set([...homes].map(cgroupName));
  const names = new Set(users().map((u) => u.name));
  for (const g of siloGroups()) {
    if (before.groups.has(g) || names.has(g) || !prefixes.has(g.slice(0, 9))) continue;
    found.push(`group ${g} (its user is gone)`);
  }
  for (const dir of cgroupDirs()) {
    if (before.cgroups.has(dir) || !cgroups.has(dir.split('/').pop()) || !existsSync(dir) || inUse(dir)) continue;
    const tenants = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    found.push(`control group ${dir}${tenants.length ? ` (tenants: ${tenants.join(', ')})` : ''}`);
  }
  return found;
}
