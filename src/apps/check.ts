/**
 * Checking a tenant app before any worker runs it: a child process (the worker's own
 * check-app entry) imports it, builds a worker around it and registers it. A child, so
 * the control plane never imports worker internals or keeps the app's modules loaded,
 * and an app that hangs or exits at import cannot take a command down with it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../common/config.js';
import { SiloError } from '../common/errors.js';

export interface AppInfo {
  name: string;
  migrationsDir: string;
  latestMigration: number;
  seed: boolean;
}

/** Check the app at `entry` (undefined: the bundled sample). `label` names it in errors. */
export function checkApp(entry: string | undefined, label = entry ?? 'the bundled polls app'): Promise<AppInfo> {
  const script = join(projectRoot, 'dist', 'worker', 'check-app.js');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, ...(entry ? [entry] : [])], { timeout: 30_000, env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' } }, (err, stdout, stderr) => {
      if (err) {
        const line = stderr.trim().split('\n').filter(Boolean).pop() ?? (err.killed ? 'timed out' : err.message.split('\n')[0]);
        reject(new SiloError(`app ${label}: ${line}`));
        return;
      }
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as AppInfo);
    });
  });
}
