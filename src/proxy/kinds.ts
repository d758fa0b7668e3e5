/**
 * The proxies silo can run, in one list: each kind's driver lives in its own folder
 * (nginx/, caddy/: renderer, driver and config pieces). Adding a kind is a folder and an
 * entry here (and its name in SILO_PROXY's schema, common/config.ts, which sits below).
 */
import { join } from 'node:path';
import { findProgram } from './binaries.js';
import { withStatus, type ProxyDriver } from './driver.js';
import { nginxDriver } from './nginx/driver.js';
import { caddyDriver } from './caddy/driver.js';

export type ProxyKind = 'nginx' | 'caddy';

interface KindEntry {
  driver(dir: string, binary: string): Omit<ProxyDriver, 'status'>;
  /** what to say when its program is not installed */
  notInstalled: string;
}

export const PROXY_KINDS: Record<ProxyKind, KindEntry> = {
  nginx: { driver: nginxDriver, notInstalled: 'nginx is not installed (Debian: apt-get install nginx-light), or set SILO_PROXY=caddy' },
  caddy: { driver: caddyDriver, notInstalled: 'caddy is not installed (Debian: apt-get install caddy), or set SILO_PROXY=nginx' },
};

/** The driver for `kind`, keeping its files under `proxyHome/<kind>`. */
export function proxyDriver(proxyHome: string, kind: ProxyKind): ProxyDriver {
  const binary = findProgram(kind);
  if (!binary) {
    throw new Error(PROXY_KINDS[kind].notInstalled);
  }
  const dir = join(proxyHome, kind);
  return withStatus(PROXY_KINDS[kind].driver(dir, binary));
}
