/**
 * nginx listens with `reuseport`: each worker has its own listening socket, which lets a
 * master restarted after a crash bind beside the old workers. The price is at reload:
 * when an old worker closes its socket, connections still queued in it are reset (seen as
 * one "socket hang up" in ~6,000 requests of a neighbour while a tenant was created).
 * Linux 5.14+ can hand those queued connections to another socket of the group instead
 * (net.ipv4.tcp_migrate_req, per network namespace). silo turns it on when it may (root).
 */
import { readFileSync, writeFileSync } from 'node:fs';

const SYSCTL = '/proc/sys/net/ipv4/tcp_migrate_req';

export type MigrateReq = 'on' | 'turned-on' | 'unavailable' | 'not-root';

export function keepQueuedConnectionsOnReload(): MigrateReq {
  let value: string;
  try {
    value = readFileSync(SYSCTL, 'utf8').trim();
  } catch {
    return 'unavailable'; // kernel older than 5.14, or not Linux
  }
  if (value === '1') return 'on';
  if (process.getuid?.() !== 0) return 'not-root';
  try {
    writeFileSync(SYSCTL, '1\n');
    return 'turned-on';
  } catch {
    return 'unavailable'; // a read-only /proc/sys (some containers)
  }
}
