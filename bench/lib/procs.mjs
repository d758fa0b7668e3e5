/**
 * Process inspection for the benchmark: which processes belong to a SILO_HOME (to check
 * that `silo down` left nothing), and how much memory a process tree holds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

function read(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** pids (other than this process) whose command line or environment mentions `marker`. */
export function processesOf(marker) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmd = read(`/proc/${entry}/cmdline`);
    const env = read(`/proc/${entry}/environ`);
    if (cmd === undefined) continue;
    if (cmd.includes(marker) || (env ?? '').includes(marker)) {
      found.push({ pid: Number(entry), cmd: cmd.replace(/\0/g, ' ').trim().slice(0, 200) });
    }
  }
  return found;
}

/** Every process: pid -> { ppid, comm, ticks } from /proc/<pid>/stat. */
function processTable() {
  const table = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = read(`/proc/${entry}/stat`);
    if (!stat) continue;
    // comm is in parentheses and may contain spaces: fields after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    table.set(Number(entry), { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) });
  }
  return table;
}

/** `pid` and all its descendants. */
export function tree(pid, table = processTable()) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const [child, p] of table) if (p.ppid === out[i]) out.push(child);
  }
  return out.filter((p) => table.has(p));
}

/** RSS and PSS in kB of one process (from /proc; PSS shares shared pages fairly). */
export function memoryOf(pid) {
  const status = read(`/proc/${pid}/status`) ?? '';
  const rollup = read(`/proc/${pid}/smaps_rollup`) ?? '';
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const pss = Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  return { rssKB: rss, pssKB: pss };
}

/** The parts of one process's memory, in kB: RSS = anon + file (+ shmem); USS = private pages. */
export function memoryDetail(pid) {
  const status = read(`/proc/${pid}/status`) ?? '';
  const rollup = read(`/proc/${pid}/smaps_rollup`) ?? '';
  const kb = (re, text) => Number(re.exec(text)?.[1] ?? 0);
  return {
    rssKB: kb(/VmRSS:\s+(\d+)/, status),
    rssAnonKB: kb(/RssAnon:\s+(\d+)/, status),
    rssFileKB: kb(/RssFile:\s+(\d+)/, status),
    pssKB: kb(/^Pss:\s+(\d+)/m, rollup),
    ussKB: kb(/^Private_Clean:\s+(\d+)/m, rollup) + kb(/^Private_Dirty:\s+(\d+)/m, rollup),
  };
}

/** Is a DAMON "pageout" scheme running (it reclaims cold pages of idle processes)? */
export function damonPageout() {
  try {
    const base = '/sys/kernel/mm/damon/admin/kdamonds';
    for (const k of readdirSync(base).filter((d) => /^\d+$/.test(d))) {
      if ((read(`${base}/${k}/state`) ?? '').trim() !== 'on') continue;
      for (const c of readdirSync(`${base}/${k}/contexts`).filter((d) => /^\d+$/.test(d))) {
        for (const sch of readdirSync(`${base}/${k}/contexts/${c}/schemes`).filter((d) => /^\d+$/.test(d))) {
          if ((read(`${base}/${k}/contexts/${c}/schemes/${sch}/action`) ?? '').trim() === 'pageout') return true;
        }
      }
    }
  } catch {
    // no DAMON sysfs
  }
  return false;
}

/** Sum of RSS and PSS over a set of pids, in MB. */
export function sumMemory(pids) {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    const m = memoryOf(pid);
    rss += m.rssKB;
    pss += m.pssKB;
  }
  return { processes: pids.length, rssMB: Math.round(rss / 102.4) / 10, pssMB: Math.round(pss / 102.4) / 10 };
}

/** RSS in kB per pid, as `ps -o rss=` reports it. */
export function psRss(pids) {
  if (pids.length === 0) return new Map();
  const out = execFileSync('ps', ['-o', 'pid=,rss=', '-p', pids.join(',')], { encoding: 'utf8' });
  const map = new Map();
  for (const line of out.trim().split('\n')) {
    const [pid, rss] = line.trim().split(/\s+/).map(Number);
    map.set(pid, rss);
  }
  return map;
}

export { processTable };

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

/** Busy CPU ticks of the whole machine (all cores), from /proc/stat. */
function machineBusyTicks() {
  const [, ...f] = (read('/proc/stat') ?? '').split('\n')[0].trim().split(/\s+/);
  const n = f.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - n[3] - n[4]; // minus idle and iowait
}

/**
 * Where CPU time goes during a case: snapshot before and after, diff per process, grouped
 * as load generator (this process), workers, PM2 daemon, PostgreSQL, proxy, bench
 * children (reference / bare servers), and everything else on the machine (noise).
 */
export function makeCpuProbe({ daemonPidFile, benchChildren = () => [] }) {
  function snapshot() {
    const procs = processTable();
    let daemon = 0;
    try {
      daemon = Number(readFileSync(daemonPidFile, 'utf8').trim());
    } catch {
      // no daemon
    }
    return { procs, daemon, busy: machineBusyTicks(), children: new Set(benchChildren()) };
  }

  function classify(pid, snap) {
    if (pid === process.pid) return 'loadGenerator';
    if (snap.children.has(pid)) return 'benchServers';
    if (pid === snap.daemon) return 'pm2Daemon';
    // Walk up to the daemon; the first ancestor below it names the group.
    let p = pid;
    let top = null;
    for (let i = 0; i < 20 && p > 1; i++) {
      const info = snap.procs.get(p);
      if (!info) return 'other';
      if (info.ppid === snap.daemon) {
        top = p;
        break;
      }
      p = info.ppid;
    }
    if (top === null) return 'other';
    const cmd = read(`/proc/${top}/cmdline`) ?? '';
    if (cmd.includes('worker/server.js')) return 'workers';
    if (cmd.includes('embedded-main')) return 'postgres';
    const comm = snap.procs.get(top)?.comm ?? '';
    if (comm.startsWith('nginx') || comm.startsWith('caddy') || cmd.includes('nginx') || cmd.includes('caddy')) return 'proxy';
    return 'otherStack';
  }

  /** CPU seconds per group between two snapshots; `other` = machine busy minus ours. */
  function diff(a, b) {
    const groups = { loadGenerator: 0, workers: 0, pm2Daemon: 0, postgres: 0, proxy: 0, benchServers: 0, otherStack: 0 };
    const others = [];
    for (const [pid, info] of b.procs) {
      const g = classify(pid, b);
      const before = a.procs.get(pid);
      const d = Math.max(0, before && before.comm === info.comm ? info.ticks - before.ticks : info.ticks);
      if (g === 'other') {
        if (d > 0) others.push([info.comm, d / CLK_TCK]);
        continue;
      }
      groups[g] += d;
    }
    const ours = Object.values(groups).reduce((x, y) => x + y, 0);
    const out = Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, v / CLK_TCK]));
    out.restOfMachine = Math.max(0, b.busy - a.busy - ours) / CLK_TCK;
    Object.defineProperty(out, 'topOthers', { enumerable: false, value: others.sort((x, y) => y[1] - x[1]).slice(0, 3) });
    return out;
  }

  return { snapshot, diff };
}

/**
 * CPU ticks (1/100 s) of every process of a stack (the PM2 daemon's tree), by pid, with a
 * group name: PM2 daemon, waker, workers, postgres, nginx, other.
 */
export function stackCpu(stack) {
  const daemon = Number(read(`${stack.env.PM2_HOME}/pm2.pid`)?.trim());
  const table = processTable();
  const out = new Map();
  for (const pid of tree(daemon, table)) {
    const cmd = (read(`/proc/${pid}/cmdline`) ?? '').replace(/\0/g, ' ');
    const group = pid === daemon ? 'PM2 daemon' : /worker\/server\.js/.test(cmd) ? 'workers' : /waker/.test(cmd) ? 'waker' : /postgres/.test(cmd) || table.get(pid).comm === 'postgres' ? 'postgres' : /nginx/.test(cmd) ? 'nginx' : 'other';
    out.set(pid, { group, ticks: table.get(pid).ticks });
  }
  return out;
}

/** Seconds of CPU per group between two stackCpu() readings (processes that ended are not counted). */
export function cpuSince(before, after) {
  const sum = {};
  for (const [pid, a] of after) sum[a.group] = (sum[a.group] ?? 0) + a.ticks - (before.get(pid)?.ticks ?? 0);
  return Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, Math.round(v) / 100]));
}
