/**
 * Writing the proxy configuration into $SILO_HOME/proxy/<kind>/: render from the
 * registry, check the candidate with the proxy's own validator (`nginx -t`,
 * `caddy validate`) in a staging folder, and only then move it into place. A bad
 * render never replaces a working config.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../common/config.js';
import { findProgram } from './binaries.js';
import { renderCaddy } from './caddy.js';
import type { ProxyModel } from './model.js';
import { renderNginx } from './nginx.js';

const run = promisify(execFile);

export type ProxyKind = 'nginx' | 'caddy';

export interface ProxyLayout {
  kind: ProxyKind;
  dir: string;
  /** the file the running proxy reads */
  config: string;
  /** caddy's admin socket */
  adminSocket: string;
  binary: string;
}

export function proxyLayout(proxyHome: string, kind: ProxyKind): ProxyLayout {
  const binary = findProgram(kind);
  if (!binary) {
    throw new Error(
      kind === 'nginx'
        ? 'nginx is not installed (Debian: apt-get install nginx-light), or set SILO_PROXY=caddy'
        : 'caddy is not installed (Debian: apt-get install caddy), or set SILO_PROXY=nginx',
    );
  }
  const dir = join(proxyHome, kind);
  return {
    kind,
    dir,
    config: join(dir, kind === 'nginx' ? 'nginx.conf' : 'Caddyfile'),
    adminSocket: join(dir, 'admin.sock'),
    binary,
  };
}

export function proxyEnv(layout: ProxyLayout): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: layout.dir,
    XDG_CONFIG_HOME: join(layout.dir, 'config'),
    XDG_DATA_HOME: join(layout.dir, 'data'),
    SILO_CADDY_ADMIN: layout.adminSocket,
  };
}

function render(layout: ProxyLayout, model: ProxyModel): Record<string, string> {
  if (layout.kind === 'nginx') {
    return {
      'nginx.conf': readFileSync(join(projectRoot, 'proxy', 'nginx.conf'), 'utf8'),
      'tenants.conf': renderNginx(model),
    };
  }
  const base = readFileSync(join(projectRoot, 'proxy', 'Caddyfile.base'), 'utf8');
  return { Caddyfile: renderCaddy(base, model) };
}

async function validate(layout: ProxyLayout, dir: string): Promise<void> {
  try {
    if (layout.kind === 'nginx') {
      for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(layout.dir, 'tmp', t), { recursive: true });
      await run(layout.binary, ['-t', '-q', '-e', 'stderr', '-p', layout.dir, '-c', join(dir, 'nginx.conf')]);
    } else {
      await run(layout.binary, ['validate', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { env: proxyEnv(layout) });
    }
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
    throw new Error(`the rendered ${layout.kind} config is invalid: ${stderr.split('\n').filter(Boolean).pop()}`);
  }
}

/** Install the config for `model`. Returns false when nothing changed (no reload needed). */
export async function installProxyConfig(layout: ProxyLayout, model: ProxyModel): Promise<boolean> {
  const files = render(layout, model);
  mkdirSync(layout.dir, { recursive: true });
  const unchanged = Object.entries(files).every(([name, text]) => {
    const file = join(layout.dir, name);
    return existsSync(file) && readFileSync(file, 'utf8') === text;
  });
  if (unchanged) return false;
  const staging = join(layout.dir, 'staging');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(staging, name), text);
  await validate(layout, staging);
  // Base file first, tenants file last: each rename is atomic.
  for (const name of Object.keys(files)) {
    copyFileSync(join(staging, name), join(layout.dir, `${name}.next`));
    renameSync(join(layout.dir, `${name}.next`), join(layout.dir, name));
  }
  rmSync(staging, { recursive: true, force: true });
  return true;
}

/** Ask a running Caddy to load the installed config (atomic; keeps the old one on error). */
export async function reloadCaddy(layout: ProxyLayout): Promise<void> {
  try {
    await run(layout.binary, ['reload', '--config', layout.config, '--adapter', 'caddyfile', '--address', `unix/${layout.adminSocket}`], {
      env: proxyEnv(layout),
    });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`caddy reload failed: ${stderr.split('\n').filter(Boolean).pop() ?? (err as Error).message}`);
  }
}
