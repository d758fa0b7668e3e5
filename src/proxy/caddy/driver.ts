/** The Caddy driver (the contract: ../driver.ts). */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../common/config.js';
import { chownTree, dropTo, lastLine, proxyEnv as env, type ProxyDriver } from '../driver.js';
import { renderCaddy } from './render.js';

const run = promisify(execFile);

export function caddyDriver(dir: string, binary: string): Omit<ProxyDriver, 'status'> {
  const config = join(dir, 'Caddyfile');
  const adminSocket = join(dir, 'admin.sock');
  const pidFile = join(dir, 'caddy.pid');
  return {
    kind: 'caddy',
    dir,
    config,
    pidFile,
    render: (model) => ({ Caddyfile: renderCaddy(readFileSync(join(projectRoot, 'proxy', 'Caddyfile.base'), 'utf8'), model) }),
    async validate(stagingDir) {
      try {
        await run(binary, ['validate', '--config', join(stagingDir, 'Caddyfile'), '--adapter', 'caddyfile'], { env: env(dir) });
      } catch (err) {
        throw new Error(`the rendered caddy config is invalid: ${lastLine(err)}`);
      }
    },
    async reload() {
      // Through the admin API: an atomic swap that keeps the old config on error.
      try {
        await run(binary, ['reload', '--config', config, '--adapter', 'caddyfile', '--address', `unix/${adminSocket}`], { env: env(dir) });
      } catch (err) {
        throw new Error(`caddy reload failed: ${lastLine(err)}`);
      }
    },
    command(runAs) {
      const args = ['run', '--config', config, '--adapter', 'caddyfile', '--pidfile', pidFile];
      if (!runAs) return { script: binary, args, env: env(dir) };
      // Its admin socket, pid file and state are in its folder: the proxy user's (root,
      // which reloads it through that socket, can always connect).
      mkdirSync(dir, { recursive: true });
      chownTree(dir, runAs);
      return { script: '/usr/bin/setpriv', args: [...dropTo(runAs), binary, ...args], env: env(dir) };
    },
  };
}
