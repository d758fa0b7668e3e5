/** The nginx driver (the contract: ../driver.ts). */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { projectRoot } from '../../common/config.js';
import { childPids, isAlive } from '../../common/processes.js';
import { chownTree, lastLine, proxyEnv as env, type ProxyDriver, type RunAs } from '../driver.js';
import { nginxUserLine, renderNginx } from './render.js';
import { renderNginxPool } from './pool.js';
import { keepQueuedConnectionsOnReload } from './reuseport.js';

const run = promisify(execFile);

async function waitForAllExit(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(20);
}

export function nginxDriver(dir: string, binary: string): Omit<ProxyDriver, 'status'> {
  const config = join(dir, 'nginx.conf');
  const tempDirs = (runAs?: RunAs) => {
    for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, 'tmp', t), { recursive: true });
    // Its workers buffer bodies there, as the proxy's user.
    if (runAs) chownTree(join(dir, 'tmp'), runAs);
  };
  return {
    kind: 'nginx',
    dir,
    config,
    pidFile: join(dir, 'nginx.pid'), // `pid nginx.pid;` in proxy/nginx.conf, relative to the prefix
    render: (model) => ({
      'nginx.conf': nginxUserLine(model) + readFileSync(join(projectRoot, 'proxy', 'nginx.conf'), 'utf8'),
      'tenants.conf': renderNginx(model),
      'pool.conf': renderNginxPool(model),
    }),
    // The keep-alive upstreams alone are worth no reload: the next one loads them (pool.ts).
    deferred: ['pool.conf'],
    async validate(stagingDir) {
      tempDirs();
      try {
        await run(binary, ['-t', '-q', '-e', 'stderr', '-p', dir, '-c', join(stagingDir, 'nginx.conf')]);
      } catch (err) {
        throw new Error(`the rendered nginx config is invalid: ${lastLine(err)}`);
      }
    },
    async reload(pid) {
      // The master starts workers with the new config and tells the old ones to finish
      // their requests and exit. Until they have, a new connection can still land on an
      // old one (each worker has its own reuseport socket): wait, so that "reloaded"
      // means every connection from now on sees the new config.
      const old = childPids(pid);
      keepQueuedConnectionsOnReload();
      process.kill(pid, 'SIGHUP');
      await waitForAllExit(old, 15_000);
    },
    command(runAs) {
      tempDirs(runAs);
      keepQueuedConnectionsOnReload();
      return { script: binary, args: ['-e', 'stderr', '-p', dir, '-c', config, '-g', 'daemon off;'], env: env(dir) };
    },
  };
}
