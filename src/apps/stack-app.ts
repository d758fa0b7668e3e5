/**
 * The stack's app (SILO_APP, or the bundled sample), made ready before `up`, `run` and
 * `tenant create` start anything. With SILO_APP set it is registered as a release (a
 * snapshot, checked: src/apps/releases.ts) and new tenants start on that snapshot, so a
 * tenant never runs whatever the app folder holds at the moment its worker restarts,
 * and `silo rollback` after its first deploy has a fixed place to return to. The
 * bundled sample is only checked: it ships with silo. A bad app is one line here, not a
 * worker failing under PM2.
 */
import { projectFolder, type SiloConfig } from '../common/config.js';
import { checkApp } from './check.js';
import { registerRelease } from './releases.js';

/** The release id new tenants start on; undefined: the bundled sample. */
export async function stackRelease(cfg: SiloConfig): Promise<string | undefined> {
  if (!cfg.app) {
    await checkApp(undefined, undefined, cfg);
    return undefined;
  }
  return (await registerRelease(cfg, cfg.app, projectFolder())).id;
}
