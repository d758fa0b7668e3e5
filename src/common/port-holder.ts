/**
 * Who holds a TCP port on loopback: a port a worker needs but another process listens on
 * is reported at once, by name, instead of the worker failing to listen, PM2 restarting
 * it, and the command waiting for a readiness that never comes (~20 s, then a timeout).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { isPortFree } from './ports.js';

/** Inodes of sockets listening on `port` (IPv4 and IPv6 tables, state 0A = LISTEN). */
function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1]!.endsWith(`:${hex}`) && f[3] === '0A') inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** "pid 1234 (nginx)" for the process listening on `port`, when /proc lets us see it. */
export function portHolder(port: number): string | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) {
          const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          return `pid ${pid} (${comm})`;
        }
      } catch {
        // gone, or not ours to see
      }
    }
  }
  return undefined;
}

/** undefined when `port` is free on 127.0.0.1; else a one-line reason naming the holder. */
export async function portInUse(port: number, whose: string): Promise<string | undefined> {
  if (await isPortFree(port)) return undefined;
  const holder = portHolder(port);
  return `port ${port} (${whose}) is in use by ${holder ?? 'another process'}: stop it, then run the command again`;
}
