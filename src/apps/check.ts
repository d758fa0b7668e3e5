/**
 * Checking a tenant app before any worker runs it: a child process (the worker's own
 * check-app entry) imports it, builds a worker around it and registers it. A child, so
 * the control plane never imports worker internals or keeps the app's modules loaded,
 * and an app that hangs or exits at import cannot take a command down with it. Under
 * root the child is not root: it runs as the home's unprivileged check user in a private
 * folder (src/isolation/check-user.ts), from the worker code that user can read.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot, type SiloConfig } from '../common/config.js';
import { SiloError } from '../common/errors.js';
import { isRoot } from '../common/reach.js';
import { checkIdentity } from '../isolation/check-user.js';
import { withLock } from '../registry/lock.js';
import { workerCodeRoot } from '../isolation/worker-code.js';

export interface AppInfo {
  name: string;
  migrationsDir: string;
  latestMigration: number;
  seed: boolean;
}

function parseInfo(stdout: string): AppInfo | undefined {
  try {
    const info = JSON.parse(stdout.trim().split('\n').pop() ?? '') as AppInfo & { checked?: boolean };
    return info.checked === true ? { name: info.name, migrationsDir: info.migrationsDir, latestMigration: info.latestMigration, seed: info.seed } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Check the app at `entry` (undefined: the bundled sample). `label` names it in errors.
 * With `cfg` (every command has one) and under root, as the check user.
 */
export function checkApp(entry: string | undefined, label = entry ?? 'the bundled polls app', cfg?: SiloConfig): Promise<AppInfo> {
  // Under root one check at a time per home: the check user is the home's one `_check`
  // user, and a check ends by killing whatever runs as it, which would kill a second
  // command's check running at the same moment (two creates at once did).
  if (cfg && isRoot()) return withLock(join(cfg.home, 'locks', 'check.lock'), () => runCheck(entry, label, cfg));
  return runCheck(entry, label, cfg);
}

function runCheck(entry: string | undefined, label: string, cfg?: SiloConfig): Promise<AppInfo> {
  const who = cfg ? checkIdentity(cfg) : undefined;
  const script = join(who && cfg ? workerCodeRoot(cfg) : projectRoot, 'dist', 'worker', 'check-app.js');
  const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...(who ? { HOME: who.dir, TMPDIR: who.dir } : {}) };
  const as = who ? { uid: who.uid, gid: who.gid, cwd: who.dir } : {};
  return new Promise<AppInfo>((resolve, reject) => {
    // Through `env -u NODE_OPTIONS`: a wrapper of silo's own process (tap's process
    // tracker) can add NODE_OPTIONS to every child's environment, and the check, an
    // unprivileged user's process, must load nothing but the app (nor fail on a file of
    // root's it cannot read).
    execFile('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, script, ...(entry ? [entry] : [])], { timeout: 30_000, env, ...as }, (err, stdout, stderr) => {
      // Its verdict is its last stdout line (written once the check is over), whatever an
      // exit hook of a loader does after it (a coverage recorder that cannot write as the
      // check user). A failure is its first stderr line (check-app writes exactly one).
      const info = parseInfo(stdout);
      if (info && !(err?.killed ?? false)) return resolve(info);
      const line = stderr.split('\n').find((l) => l.trim()) ?? (err?.killed ? 'timed out' : (err?.message.split('\n')[0] ?? 'no answer'));
      reject(new SiloError(`app ${label}: ${line.trim()}`));
    });
  }).finally(() => who?.done());
}
