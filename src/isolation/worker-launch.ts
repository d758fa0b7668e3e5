/**
 * How PM2 starts a tenant's worker: in fork mode, through a few lines of shell that
 * `exec` their way to node, so the pid PM2 watches (max_memory_restart, `pm2 ls`,
 * signals) is the worker itself, with nothing in between that tenant code could leave.
 *
 * PM2 gives every forked child an IPC channel (fd 3, NODE_CHANNEL_FD), and trusts
 * whatever arrives on it: a worker could rename itself in PM2's list or point
 * max_memory_restart at another pid (`axm:option:configuration`). The launcher closes
 * fd 3 and forgets NODE_CHANNEL_FD before node starts, so tenant code has no
 * `process.send` and no channel to the root daemon at all. In cluster mode the daemon
 * was also every worker's cluster primary, listening on their behalf (any worker could
 * join a neighbour's port, or bind port 81); in fork mode a worker binds only what its
 * own user may, and it listens on a Unix socket in its own folder.
 *
 * Under root, while still root, the launcher moves itself into the tenant's control
 * groups (CGROUP_PROCS, or CPU_CGROUP from older ecosystems; ':'-separated), with shell
 * built-ins only (no process forked on the way to node: a wake waits for each), then
 * `setpriv` drops to the tenant's user with no supplementary groups and no way to gain
 * privileges again (no_new_privs), and execs node.
 */
import type { SiloConfig } from '../common/config.js';
import { workerIdentity } from './tenant-user.js';

const SETPRIV = '/usr/bin/setpriv';

/**
 * Close PM2's channel (fd 3) and forget it. NODE_OPTIONS goes too: whatever the shell
 * that started silo (or a tool wrapping it, like tap's process tracker) put there would
 * load into every tenant's node (`--require` of a file of root's, a debugger port).
 */
const CLOSE_CHANNEL = ['exec 3>&-', 'unset NODE_CHANNEL_FD NODE_CHANNEL_SERIALIZATION_MODE NODE_OPTIONS'];

/**
 * Under root: join the tenant's groups. Built-ins only (IFS splits the list): every
 * process forked here (`id`, `tr`, a subshell) was time added to each wake.
 */
const JOIN_GROUPS = [
  'IFS=:',
  'for f in ${CGROUP_PROCS:-$CPU_CGROUP}; do',
  '  echo $$ > "$f" || echo "silo worker: could not join its group $f" >&2',
  'done',
  'unset IFS',
];

const launch = (root: boolean) => [...CLOSE_CHANNEL, ...(root ? JOIN_GROUPS : []), 'exec "$@"'].join('\n');

export interface WorkerLaunch {
  script: string;
  args: string[];
  interpreter: 'none';
  exec_mode: 'fork';
}

/** The PM2 fields that run `entry` (a worker's server.js) with `nodeArgs` as the tenant's user. */
export function workerLaunch(cfg: SiloConfig, tenant: string, entry: string, nodeArgs: string[]): WorkerLaunch {
  const id = workerIdentity(cfg, tenant);
  const drop = id.uid !== undefined ? [SETPRIV, `--reuid=${id.uid}`, `--regid=${id.gid}`, '--clear-groups', '--no-new-privs', '--'] : [];
  return {
    script: '/bin/sh',
    // Root is known here (there is a user to drop to) and in the launcher alike: PM2's
    // daemon runs as the user that rendered this app.
    args: ['-c', launch(drop.length > 0), 'silo-worker', ...drop, process.execPath, ...nodeArgs, entry],
    interpreter: 'none',
    exec_mode: 'fork',
  };
}
