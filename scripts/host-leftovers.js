// What a test run leaves on the host outside its folders (under root): tenant Unix users,
// their groups, control groups. scripts/test.js runs the suite with TMPDIR set to a
// folder of its own, takes a snapshot before, and asks this module after:
// - users: tenant and proxy users whose comment ("silo tenant <t> of <home>") names a home in that folder;
// - run folders: /run/silo/<id> whose `_home` is a home in that folder;
// - groups: `silo<hex>-*` groups made during the run whose user is gone;
// - control groups: `silo-<id>` groups made during the run that no process is in any more
//   (a stack of another run on this host still has its workers in its groups).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const RUN_ROOT = '/run/silo';

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

export function snapshot() {
  return { groups: new Set(siloGroups()), cgroups: new Set(cgroupDirs()) };
}

/** One line per thing the run left behind (empty: the host is as it was). */
export function leftovers(before, folder) {
  const base = resolve(folder).replace(/[:,\n]/g, '_');
  const found = [];
  const left = users().filter((u) => {
    const home = /^silo (?:tenant \S+|proxy) of (.*)$/.exec(u.comment)?.[1];
    return home !== undefined && (home === base || home.startsWith(`${base}/`));
  });
  for (const u of left) found.push(`user ${u.name} (${u.comment})`);
  // Socket folders under /run/silo name their home in `_home`.
  for (const dir of safeList(RUN_ROOT).map((e) => join(RUN_ROOT, e))) {
    const home = lines(join(dir, '_home'))[0]?.trim();
    if (home && (home === resolve(folder) || home.startsWith(`${resolve(folder)}/`))) found.push(`run folder ${dir} (of ${home})`);
  }
  const names = new Set(users().map((u) => u.name));
  for (const g of siloGroups()) if (!before.groups.has(g) && !names.has(g)) found.push(`group ${g} (its user is gone)`);
  for (const dir of cgroupDirs()) {
    if (before.cgroups.has(dir) || !existsSync(dir) || inUse(dir)) continue;
    const tenants = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    found.push(`control group ${dir}${tenants.length ? ` (tenants: ${tenants.join(', ')})` : ''}`);
  }
  return found;
}
