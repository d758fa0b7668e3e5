/**
 * The stack's app (SILO_APP, or the bundled sample), made ready before `up`, `run` and
 * `tenant create` start anything. With SILO_APP set it is registered as a release (a
 * snapshot, checked: src/apps/releases.ts) and new tenants start on that snapshot, so a
 * tenant never runs whatever the app folder holds at the moment its worker restarts,
 * and `silo rollback` after its first deploy has a fixed place to return to. The
 * bundled sample is only checked: it ships with silo. A bad app is one line here, not a
 * worker failing under PM2.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectFolder, projectRoot, type SiloConfig } from '../common/config.js';
import { checkApp } from './check.js';
import { registerRelease } from './releases.js';

/** This build of silo: its compiled files' names, sizes and times. */
function buildStamp(): string {
  const h = createHash('sha256');
  const dist = join(projectRoot, 'dist');
  for (const rel of (readdirSync(dist, { recursive: true }) as string[]).sort()) {
    const st = statSync(join(dist, rel));
    h.update(`${rel}\0${st.size}\0${st.mtimeMs}\0`);
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * The bundled sample, checked once per home and build of silo: a check starts a child
 * (~0.9 s), and every `up`, `run` and `tenant create` would repeat it on the same code.
 */
async function checkSample(cfg: SiloConfig): Promise<void> {
  const mark = join(cfg.home, 'runtime', `sample-checked-${buildStamp()}`);
  if (existsSync(mark)) return;
  await checkApp(undefined, undefined, cfg);
  mkdirSync(join(cfg.home, 'runtime'), { recursive: true, mode: 0o711 });
  writeFileSync(mark, '');
}

/** The release id new tenants start on; undefined: the bundled sample. */
export async function stackRelease(cfg: SiloConfig): Promise<string | undefined> {
  if (!cfg.app) {
    await checkSample(cfg);
    return undefined;
  }
  return (await registerRelease(cfg, cfg.app, projectFolder())).id;
}
