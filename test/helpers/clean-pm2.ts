/**
 * A stack whose PM2 daemon is spawned by the test first, through `env -i` with the
 * environment silo gives it (PATH, HOME, LANG, PM2_HOME), so that `silo up` finds it
 * running. Spawned by `silo up` under tap, the daemon gets tap's processinfo hook back
 * into NODE_OPTIONS (src/pm2/pm2.ts keeps PATH/HOME/... but drops
 * _TAPJS_PROCESSINFO_COVERAGE_=0): it and every worker then write coverage as orphan
 * processes, and `tap --disable-coverage` exits 1 with every assertion passing. The
 * browser tests start Chromium beside such a stack.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startStack, type Stack } from './stack.js';
import { root } from './silo-home.js';

export async function startStackOnCleanPm2(t: { teardown(fn: () => unknown): void }, opts: Parameters<typeof startStack>[1] = {}): Promise<Stack> {
  const pm2Home = mkdtempSync(join(tmpdir(), 'silo-clean-pm2-'));
  const pm2Pid = () => (existsSync(join(pm2Home, 'pm2.pid')) ? Number(readFileSync(join(pm2Home, 'pm2.pid'), 'utf8')) : undefined);
  const cleanPm2 = async () => {
    const pid = pm2Pid();
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM'); // PM2 stops its apps, then exits
        for (let i = 0; i < 100; i++) {
          process.kill(pid, 0);
          await new Promise((r) => setTimeout(r, 100));
        }
      } catch {
        // gone
      }
    }
    rmSync(pm2Home, { recursive: true, force: true });
  };
  // Plus whatever silo sets for the daemon it spawns (NAME = 'value' in connect()).
  const siloDaemonEnv = [...readFileSync(join(root, 'src', 'pm2', 'pm2.ts'), 'utf8').matchAll(/process\.env\.([A-Z0-9_]+) = '([^']*)'/g)].map((m) => `${m[1]}=${m[2]}`);
  const daemonEnv = [`PATH=${process.env.PATH}`, `HOME=${process.env.HOME}`, `PM2_HOME=${pm2Home}`, ...(process.env.LANG ? [`LANG=${process.env.LANG}`] : []), ...siloDaemonEnv];
  const ping = spawnSync('env', ['-i', ...daemonEnv, process.execPath, join(root, 'node_modules', 'pm2', 'bin', 'pm2'), 'ping'], { encoding: 'utf8', timeout: 30_000 });
  if (ping.status !== 0) {
    await cleanPm2();
    throw new Error(`cannot start the PM2 daemon: ${ping.stderr || ping.stdout}`);
  }
  try {
    return await startStack(t, { ...opts, env: { ...opts.env, PM2_HOME: pm2Home } });
  } finally {
    // After startStack's own teardown (silo down stops the daemon too): whatever is left.
    t.teardown(cleanPm2);
  }
}
